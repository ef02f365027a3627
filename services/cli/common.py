"""Helpers shared by CLI commands: one console, and domain errors printed as one clear line."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console

from services.common.errors import SalesAIError

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Print a domain error as ``error: <message>`` and exit 1 instead of dumping a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SalesAIError as err:
            console.print(f"[red]error:[/red] {err.message}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
