"""The generated protobuf code is present and matches the .proto contracts (never stale, never edited)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "proto"))
import generate  # noqa: E402  (proto/generate.py)


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    fresh = generate.generate(tmp_path)
    assert fresh, "no code generated"
    for path in fresh:
        in_tree = ROOT / "proto" / path.relative_to(tmp_path)
        assert in_tree.exists(), f"{in_tree} missing: run `make setup`"
        assert in_tree.read_bytes() == path.read_bytes(), f"{in_tree} is stale: run `make setup`"


@pytest.mark.parametrize(
    ("module", "service"),
    [
        ("salesai.ingestion.v1.ingestion_pb2", "IngestionService"),
        ("salesai.inference.v1.inference_pb2", "InferenceService"),
        ("salesai.scoring.v1.scoring_pb2", "ScoringService"),
        ("salesai.suggestions.v1.suggestions_pb2", "SuggestionService"),
    ],
)
def test_every_service_contract_is_importable(module: str, service: str) -> None:
    descriptor = importlib.import_module(module).DESCRIPTOR
    assert service in descriptor.services_by_name
    importlib.import_module(module.replace("_pb2", "_pb2_grpc"))


def test_shared_messages_carry_confidence_and_evidence() -> None:
    from salesai.common.v1 import types_pb2

    prediction = types_pb2.Prediction.DESCRIPTOR.fields_by_name
    assert {"label", "confidence", "probabilities", "evidence"} <= set(prediction)
    suggestion = types_pb2.Suggestion.DESCRIPTOR.fields_by_name
    assert {"action", "confidence", "evidence", "draft"} <= set(suggestion)
    assert {"factors", "probability"} <= set(types_pb2.Score.DESCRIPTOR.fields_by_name)
