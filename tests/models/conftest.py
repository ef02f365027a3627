"""The real base encoder (built by `make setup`; built here if missing) and one shared BaseEncoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.base_encoder import DEFAULT_BASE_MODEL_DIR, build_base_model


@pytest.fixture(scope="session")
def base_model_dir() -> Path:
    return build_base_model(DEFAULT_BASE_MODEL_DIR)


@pytest.fixture(scope="session")
def encoder(base_model_dir: Path):
    from models.encoder import BaseEncoder

    return BaseEncoder(str(base_model_dir), device="cpu", max_length=64, adapt_layers=4)
