"""Fixtures of the inference tests: copies of the shipped intent adapter registered as new versions."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from models.artifacts import MANIFEST
from models.registry import PRETRAINED_DIR


@pytest.fixture
def intent_copy(tmp_path: Path) -> Callable[[str], Path]:
    """``intent_copy("v2")``: a folder holding the shipped intent adapter as version ``v2`` (same weights, so it
    passes the promotion gate and agrees with the serving version), ready for ``registry.register``."""

    def make(version: str) -> Path:
        target = tmp_path / "copies" / version
        shutil.copytree(PRETRAINED_DIR / "intent", target)
        manifest = json.loads((target / MANIFEST).read_text())
        manifest["version"] = version
        (target / MANIFEST).write_text(json.dumps(manifest))
        return target

    return make
