"""File-based versions: register, list, load, revert."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.scoring.model import TrainResult
from services.scoring.registry import ScoringRegistry

DATA = {"file": "leads.csv", "sha256": "0" * 64, "rows": 800, "columns": []}


def test_versions_are_numbered_saved_and_reverted(tmp_path: Path, trained: TrainResult, leads: pd.DataFrame) -> None:
    registry = ScoringRegistry(tmp_path / "scoring")
    first = registry.register("default", trained, DATA)
    second = registry.register("default", trained, DATA)
    assert (first.version, second.version) == ("v1", "v2")
    assert registry.current("default") == "v2"
    folder = tmp_path / "scoring" / "default" / "v2"
    assert {p.name for p in folder.iterdir()} == {"model.joblib", "metadata.json", "metrics.json"}
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["holdout"]["auc"] == trained.report["holdout"]["auc"]
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["version"] == "v2" and metadata["data"]["sha256"] == "0" * 64
    assert [f["name"] for f in metadata["features"]] == [f.name for f in trained.model.features]
    assert metadata["created_at"] and metadata["metrics"]["auc"] > 0.75

    assert [(v.version, v.current) for v in registry.versions("default")] == [("v1", False), ("v2", True)]
    assert registry.revert("default") == ("v2", "v1")
    assert registry.current("default") == "v1"
    model, meta = registry.load("default")
    assert meta["version"] == "v1"
    np.testing.assert_allclose(model.probabilities(leads), trained.model.probabilities(leads))
    with pytest.raises(FailedPrecondition, match="oldest"):
        registry.revert("default")
    assert registry.register("default", trained, DATA).version == "v3"  # numbering never reuses a version


def test_unknown_models_and_bad_names(tmp_path: Path) -> None:
    registry = ScoringRegistry(tmp_path)
    with pytest.raises(NotFound, match="no scoring model named 'default'"):
        registry.load("default")
    with pytest.raises(NotFound):
        registry.revert("default")
    assert registry.versions("default") == []
    with pytest.raises(InvalidArgument, match="model name"):
        registry.versions("../etc")
