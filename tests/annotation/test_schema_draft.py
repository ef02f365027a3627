"""Descriptions in Chinese and English become draft schemas by deterministic rules."""

from __future__ import annotations

import pytest

from annotation.schema_draft import draft_schema
from models.tasks import default_tasks
from services.common.errors import InvalidArgument

CASES = [
    (
        "When a customer says they are comparing prices, predict whether they close within 30 days",
        "single",
        ["close_within_30_days", "not_close_within_30_days"],
    ),
    ("Predict whether the customer will renew.", "single", ["renew", "not_renew"]),
    ("Classify each message into pricing, support or other.", "single", ["pricing", "support", "other"]),
    (
        "Classify messages into one or more of: budget, timeline and authority",
        "multi",
        ["budget", "timeline", "authority"],
    ),
    ("Highlight product names and competitor names", "span", ["product_names", "competitor_names"]),
    ("当客户说在比价时，预测是否会在30天内成交", "single", ["会在30天内成交", "不会在30天内成交"]),
    ("客户是否有预算？", "single", ["有预算", "没有预算"]),
    ("将客户消息分为价格、售后和其他三类", "single", ["价格", "售后", "其他"]),
    ("把消息分成报价、投诉或咨询，可多选", "multi", ["报价", "投诉", "咨询"]),
    ("标出文本中的产品名和竞争对手", "span", ["产品名", "竞争对手"]),
]


@pytest.mark.parametrize(("description", "kind", "labels"), CASES)
def test_drafts(description: str, kind: str, labels: list[str]) -> None:
    draft = draft_schema(description)
    assert draft.kind == kind
    assert [x.name for x in draft.labels] == labels
    assert draft.name and description in draft.instructions
    hotkeys = [x.hotkey for x in draft.labels]
    assert len(set(hotkeys)) == len(hotkeys) and all(hotkeys)
    assert draft_schema(description) == draft  # deterministic


@pytest.mark.parametrize("description", ["Which intent does the customer express?", "判断客户消息的意图"])
def test_intent_questions_reuse_the_intent_task(description: str) -> None:
    draft = draft_schema(description)
    spec = default_tasks()["intent"]
    assert draft.task == "intent" and [x.name for x in draft.labels] == list(spec.labels)
    assert draft.labels[0].description == spec.label_descriptions[spec.labels[0]]


def test_binary_drafts_use_y_and_n() -> None:
    assert [x.hotkey for x in draft_schema("predict whether they churn").labels] == ["y", "n"]


@pytest.mark.parametrize("description", ["hello there", "随便看看", "classify into nothing"])
def test_unusable_descriptions_say_how_to_phrase_them(description: str) -> None:
    with pytest.raises(InvalidArgument, match="classify messages into"):
        draft_schema(description)
    with pytest.raises(InvalidArgument, match="empty"):
        draft_schema("   ")
