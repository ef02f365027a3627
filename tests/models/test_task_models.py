"""Real LoRA training on the real base encoder, loading through our fast path and through PEFT, classification
with calibrated probabilities and evidence, and rejection of broken or foreign artifacts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from models.artifacts import ADAPTER_WEIGHTS, MANIFEST, load_task_model, read_artifact
from models.runtime import classify
from services.common.errors import FailedPrecondition, InvalidArgument

MESSAGES = {
    "budget_freeze": "财务通知今年的预算全部冻结了，新项目一律暂停采购",
    "demo_request": "Could you set up a live demo of the dashboard for our ops team next week?",
    "pricing_inquiry": "你们企业版一年多少钱？按账号收费还是按公司收费？",
    "unsubscribe": "Please stop emailing me and remove <EMAIL_1> from your list.",
}


def test_training_learns_far_above_chance_and_writes_a_complete_version(small_artifact) -> None:
    metrics = small_artifact.metrics
    assert metrics["macro_f1"] >= 0.6, metrics  # chance is 0.25 for 4 balanced labels
    assert metrics["test_examples"] == 32
    assert 0.05 < small_artifact.temperature < 20
    folder = small_artifact.path
    for name in (MANIFEST, ADAPTER_WEIGHTS, "adapter_config.json", "report/metrics.json", "report/confusion.png"):
        assert (folder / name).is_file(), name
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["task"]["labels"] == sorted(MESSAGES)
    assert manifest["training"]["method"] == "lora" and manifest["data_hash"]
    assert (folder / ADAPTER_WEIGHTS).stat().st_size < 5_000_000  # adapters are small; the base is shared


def test_fast_path_equals_a_plain_peft_load(small_artifact, encoder) -> None:
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    texts = list(MESSAGES.values())
    base = AutoModelForSequenceClassification.from_pretrained(encoder.name, num_labels=4)
    reference = PeftModel.from_pretrained(base, str(small_artifact.path)).eval()
    with torch.no_grad():
        expected = reference(**encoder.tokenizer(texts, padding=True, return_tensors="pt")).logits
    model = load_task_model(small_artifact, encoder)
    (batch,) = encoder.tokenize(texts)  # all four packed into one sequence
    with torch.no_grad():
        ours = model.logits(encoder, encoder.lower(batch), batch)
    assert torch.allclose(ours, expected, atol=1e-4), (ours - expected).abs().max()


def test_predictions_are_calibrated_distributions_with_evidence_inside_the_text(small_artifact, encoder) -> None:
    model = load_task_model(small_artifact, encoder)
    texts = list(MESSAGES.values())
    results = classify(encoder, [model], texts, explain=True)
    correct = 0
    for (label, text), (prediction,) in zip(MESSAGES.items(), results, strict=True):
        assert prediction.task == "small_intent" and prediction.model_version == "v1"
        assert set(prediction.probabilities) == set(MESSAGES)
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction.confidence == pytest.approx(prediction.probabilities[prediction.label])
        correct += prediction.label == label
        assert 1 <= len(prediction.evidence) <= 3
        for span in prediction.evidence:
            assert 0 <= span.start < span.end <= len(text)
            assert text[span.start : span.end] == span.text
            assert 0 < span.weight <= 1
    assert correct >= 3
    plain = classify(encoder, [model], texts, explain=False)
    for with_evidence, without in zip(results, plain, strict=True):
        assert with_evidence[0].label == without[0].label and without[0].evidence == []


def test_packing_does_not_change_a_prediction_or_its_evidence(small_artifact, encoder) -> None:
    model = load_task_model(small_artifact, encoder)
    texts = [MESSAGES["budget_freeze"] * 3, MESSAGES["unsubscribe"], MESSAGES["demo_request"]]
    alone = [classify(encoder, [model], [t])[0][0] for t in texts]
    packed = [row[0] for row in classify(encoder, [model], texts)]
    for one, many in zip(alone, packed, strict=True):
        assert one.label == many.label
        assert one.confidence == pytest.approx(many.confidence, abs=1e-4)
        assert [(s.start, s.end) for s in one.evidence] == [(s.start, s.end) for s in many.evidence]


def test_many_texts_split_into_several_packs(small_artifact, encoder) -> None:
    model = load_task_model(small_artifact, encoder)
    texts = [f"{MESSAGES['pricing_inquiry']} #{i}" for i in range(40)]
    assert len(encoder.tokenize(texts)) > 1  # 40 × ~25 tokens > 512 per pack
    results = classify(encoder, [model], texts, explain=False)
    assert len(results) == 40 and {row[0].label for row in results} == {"pricing_inquiry"}


def test_truncated_adapter_is_rejected_with_a_clear_error(small_artifact, encoder, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(small_artifact.path, broken)
    data = (broken / ADAPTER_WEIGHTS).read_bytes()
    (broken / ADAPTER_WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidArgument, match="corrupt adapter"):
        load_task_model(read_artifact(broken), encoder)


def test_corrupt_or_missing_manifest_is_rejected(small_artifact, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(small_artifact.path, broken)
    (broken / MANIFEST).write_text("{not json")
    with pytest.raises(InvalidArgument, match="corrupt"):
        read_artifact(broken)
    (broken / MANIFEST).unlink()
    with pytest.raises(InvalidArgument):
        read_artifact(broken)


def test_adapter_from_another_base_model_is_refused(small_artifact, encoder, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    shutil.copytree(small_artifact.path, foreign)
    manifest = json.loads((foreign / MANIFEST).read_text())
    manifest["base_model_hash"] = "0" * 64
    (foreign / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(FailedPrecondition, match="trained on base model"):
        load_task_model(read_artifact(foreign), encoder)


def test_shipped_adapters_load_and_read_clear_messages(encoder) -> None:
    from models.registry import PRETRAINED_DIR

    intent = load_task_model(read_artifact(PRETRAINED_DIR / "intent"), encoder)
    risk = load_task_model(read_artifact(PRETRAINED_DIR / "risk"), encoder)
    assert intent.artifact.metrics["macro_f1"] >= 0.75, intent.artifact.metrics
    texts = [
        "今年预算被冻结了，采购流程全部暂停，明年再说吧",
        "We have decided not to renew our contract and will move to another vendor next month.",
        "你们的报价太贵了，比竞品高了30%，能不能再便宜点？",
    ]
    results = classify(encoder, [intent, risk], texts, explain=False)
    assert [row[0].label for row in results] == ["budget_freeze", "churn_risk", "price_objection"]
    assert results[1][1].label == "high"


def test_requests_with_different_models_share_one_pass_exactly(small_artifact, encoder) -> None:
    from models.registry import PRETRAINED_DIR
    from models.runtime import classify_many

    small = load_task_model(small_artifact, encoder)
    intent = load_task_model(read_artifact(PRETRAINED_DIR / "intent"), encoder)
    texts = list(MESSAGES.values())
    requests = [([small], texts[:2]), ([small, intent], texts[2:3]), ([intent], texts[3:])]
    together = classify_many(encoder, requests, explain=True)
    for (models, request_texts), got in zip(requests, together, strict=True):
        alone = classify(encoder, models, request_texts, explain=True)
        assert [[p.task for p in row] for row in got] == [[m.task.name for m in models]] * len(request_texts)
        for row_got, row_alone in zip(got, alone, strict=True):
            for a, b in zip(row_got, row_alone, strict=True):
                assert a.label == b.label and a.confidence == pytest.approx(b.confidence, abs=1e-4)
                assert [(s.start, s.end) for s in a.evidence] == [(s.start, s.end) for s in b.evidence]
