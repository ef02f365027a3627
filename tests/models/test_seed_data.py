"""The shipped training data: current with its seed files, bilingual, balanced enough, with sane splits."""

from __future__ import annotations

import collections

from models.tasks import default_tasks
from training.data import read_examples
from training.seed import DATA_DIR, build


def test_built_files_are_current_with_the_seed_files() -> None:
    intent, risk = build()
    assert read_examples(DATA_DIR / "intent.jsonl") == intent, "run `python -m training.seed`"
    assert read_examples(DATA_DIR / "risk.jsonl") == risk, "run `python -m training.seed`"


def test_every_intent_has_chinese_and_english_messages_in_every_split() -> None:
    examples = read_examples(DATA_DIR / "intent.jsonl")
    labels = default_tasks()["intent"].labels
    assert {e.label for e in examples} == set(labels)
    per = collections.Counter((e.label, e.lang) for e in examples)
    for label in labels:
        assert per[(label, "zh")] >= 40 and per[(label, "en")] >= 40, label
        assert per[(label, "mixed")] >= 8, label
        splits = {e.split for e in examples if e.label == label}
        assert splits == {"train", "dev", "test"}, label


def test_no_duplicate_messages_and_risk_labels_are_valid() -> None:
    intent = read_examples(DATA_DIR / "intent.jsonl")
    risk = read_examples(DATA_DIR / "risk.jsonl")
    texts = [e.text for e in intent]
    assert len(texts) == len(set(texts))
    assert {e.label for e in risk} == set(default_tasks()["risk"].labels)
    assert [(e.text, e.split) for e in intent] == [(e.text, e.split) for e in risk]
