"""Serving precision: bfloat16 where the hardware has it, float32 otherwise, and the same answers either way."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from models.artifacts import load_task_model, read_artifact
from models.config import ModelSettings
from models.device import native_bf16, resolve_dtype
from models.encoder import BaseEncoder
from models.registry import PRETRAINED_DIR
from models.runtime import classify
from services.common.errors import InvalidArgument
from training.data import read_examples
from training.seed import DATA_DIR

CPU = torch.device("cpu")


def test_precision_names_resolve_to_dtypes():
    assert resolve_dtype("fp32", CPU) is torch.float32
    assert resolve_dtype("bf16", CPU) is torch.bfloat16
    assert resolve_dtype("auto", CPU) is (torch.bfloat16 if native_bf16(CPU) else torch.float32)
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        resolve_dtype("fp8", CPU)


def test_settings_reject_an_unknown_precision(monkeypatch):
    monkeypatch.setenv("SALESAI_MODELS_PRECISION", "fp16")
    with pytest.raises(ValidationError, match="precision"):
        ModelSettings()
    monkeypatch.setenv("SALESAI_MODELS_PRECISION", "bf16")
    assert ModelSettings().precision == "bf16"


def test_the_encoder_refuses_an_unknown_precision(base_model_dir):
    with pytest.raises(InvalidArgument, match="precision"):
        BaseEncoder(str(base_model_dir), device="cpu", precision="half")


def test_training_encoders_are_always_float32(base_model_dir):
    settings = ModelSettings(base_model=str(base_model_dir), precision="bf16")
    assert BaseEncoder.from_settings(settings, for_training=True).dtype is torch.float32


@pytest.fixture(scope="module")
def half(base_model_dir):
    return BaseEncoder(str(base_model_dir), device="cpu", max_length=64, precision="bf16")


def test_int8_serves_in_float32(base_model_dir):
    encoder = BaseEncoder(str(base_model_dir), device="cpu", max_length=64, quantize="int8", precision="bf16")
    assert encoder.quantized and encoder.dtype is torch.float32


def test_lora_deltas_are_merged_in_float32_then_cast_once(encoder, half):
    """Merging into bfloat16 weights would round each weight twice; the merge happens on a float32 master."""
    artifact = read_artifact(PRETRAINED_DIR / "intent")
    full = load_task_model(artifact, encoder)
    reduced = load_task_model(artifact, half)
    assert half.dtype is torch.bfloat16
    for name, weight in reduced.named_parameters():
        assert weight.dtype is torch.bfloat16, name
        assert torch.equal(weight, dict(full.named_parameters())[name].to(torch.bfloat16)), name
    # the encoder's own layers are cast too, and the master copy is untouched float32
    assert next(half.model.parameters()).dtype is torch.bfloat16
    assert half.upper_copy()[0].attention.self.query.weight.dtype is torch.float32


def test_bfloat16_gives_the_float32_answers_on_held_out_messages(encoder, half):
    """Same labels on nearly every message, probabilities within a few points, evidence inside the text."""
    tests = [e for e in read_examples(DATA_DIR / "intent.jsonl") if e.split == "test"][::8][:48]
    texts = [e.text for e in tests]
    tasks = [read_artifact(PRETRAINED_DIR / name) for name in ("intent", "risk")]
    full = classify(encoder, [load_task_model(a, encoder) for a in tasks], texts, explain=True)
    reduced = classify(half, [load_task_model(a, half) for a in tasks], texts, explain=True)
    agree = differences = 0
    for text, per_full, per_reduced in zip(texts, full, reduced, strict=True):
        for a, b in zip(per_full, per_reduced, strict=True):
            assert a.task == b.task
            assert sum(b.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
            agree += a.label == b.label
            differences = max(differences, max(abs(a.probabilities[k] - b.probabilities[k]) for k in a.probabilities))
            for span in b.evidence:
                assert 0 <= span.start < span.end <= len(text) and text[span.start : span.end] == span.text
    assert agree >= 0.95 * 2 * len(texts), f"bf16 agrees with fp32 on only {agree} of {2 * len(texts)} predictions"
    assert differences < 0.15, f"a probability moved by {differences:.3f}"
