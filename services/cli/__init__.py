"""The ``salesai`` command line. Each area adds its commands through one ``register(app)`` call below."""

from __future__ import annotations

import typer

from models import cli as models_cli
from services.cli import jobs, keys, suite
from services.ingestion import cli as ingestion_cli
from services.scoring import cli as scoring_cli
from training import cli as training_cli

app = typer.Typer(
    name="salesai",
    help="salesai: PII-safe sales-conversation intelligence on your own hardware.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

for area in (suite, keys, ingestion_cli, models_cli, training_cli, jobs, scoring_cli):
    area.register(app)


def main() -> None:
    app()
