"""Slack Block Kit payload: the documented structure, limits, escaping, and buttons the callback understands."""

from __future__ import annotations

import pytest

from services.suggestions import LeadContext
from services.suggestions.callback import SLACK_ACTION_PREFIX
from services.suggestions.channels import ChannelConfig, OutgoingSuggestion, build_channel

BLOCK_TYPES = {"header", "section", "context", "actions", "divider"}


@pytest.fixture
def message(engine, make_interaction, now) -> OutgoingSuggestion:
    msg = make_interaction(
        "m1", "<PERSON_1>: too expensive", hours_ago=1, intent="budget_freeze", evidence_words=("expensive",)
    )
    suggestions = engine.suggest(LeadContext(tenant_id="acme", lead_id="lead-<1>"), [msg], now=now)
    return OutgoingSuggestion.from_suggestion(suggestions[0])


def text_object(obj: dict, *, plain: bool = False, limit: int = 3000) -> None:
    assert obj["type"] in ({"plain_text"} if plain else {"plain_text", "mrkdwn"})
    assert isinstance(obj["text"], str) and 0 < len(obj["text"]) <= limit


def test_block_kit_structure(message: OutgoingSuggestion) -> None:
    slack = build_channel(ChannelConfig(name="sales", kind="slack", url="https://hooks.slack.com/services/T/B/X"))
    payload = slack.payload(message, idempotency_key="k" * 32, now=0)
    assert isinstance(payload["text"], str) and payload["text"]  # notification fallback
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= 50
    assert all(b["type"] in BLOCK_TYPES for b in blocks)
    header, summary, draft, context, actions = blocks
    text_object(header["text"], plain=True, limit=150)
    for section in (summary, draft):
        text_object(section["text"])
    assert draft["text"]["text"].startswith("> [AI draft — edit before sending]")
    assert 0 < len(context["elements"]) <= 10
    for element in context["elements"]:
        text_object(element)
    assert len(actions["block_id"]) <= 255 and 0 < len(actions["elements"]) <= 25
    buttons = actions["elements"]
    assert [b["action_id"] for b in buttons] == [f"{SLACK_ACTION_PREFIX}{a}" for a in ("accept", "edit", "reject")]
    for button in buttons:
        assert button["type"] == "button"
        text_object(button["text"], plain=True, limit=75)
        assert button["value"] == message.suggestion_id and len(button["value"]) <= 2000
        assert button.get("style", "primary") in {"primary", "danger"}
    assert [b.get("style") for b in buttons] == ["primary", None, "danger"]


def test_mrkdwn_escapes_placeholders(message: OutgoingSuggestion) -> None:
    slack = build_channel(ChannelConfig(name="sales", kind="slack", url="https://hooks.slack.com/services/T/B/X"))
    summary = slack.payload(message, idempotency_key="k", now=0)["blocks"][1]["text"]["text"]
    assert "lead-&lt;1&gt;" in summary and "<1>" not in summary


def test_long_texts_are_cut_to_slacks_limits(message: OutgoingSuggestion) -> None:
    from dataclasses import replace

    long = replace(message, title="T" * 400, draft="D" * 5000)
    slack = build_channel(ChannelConfig(name="sales", kind="slack", url="https://hooks.slack.com/services/T/B/X"))
    blocks = slack.payload(long, idempotency_key="k", now=0)["blocks"]
    assert len(blocks[0]["text"]["text"]) == 150 and len(blocks[2]["text"]["text"]) == 3000
