"""Suggestions stored, rep feedback recorded (edits redacted) and exported as JSONL — SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

import pytest

from services.common.errors import InvalidArgument, NotFound
from services.common.storage.models import Suggestion as SuggestionRow
from services.common.storage.models import SuggestionFeedback
from services.suggestions import LeadContext
from services.suggestions.feedback import SuggestionStore


@pytest.fixture
def suggestions(engine, make_interaction, now):

    history = [
        make_interaction("m1", "预算冻结了，下季度再说", hours_ago=1, intent="budget_freeze", language="zh"),
    ]
    return engine.suggest(LeadContext(tenant_id="acme", lead_id="lead-1"), history, now=now)


def test_saving_is_idempotent(store: SuggestionStore, suggestions) -> None:
    assert len(store.save(suggestions)) == 3
    assert store.save(suggestions) == []
    row = store.get("acme", suggestions[0].id)
    assert row.status == "open" and row.evidence["interaction_ids"] == ["m1"]


def test_feedback_is_stored_and_exported_as_jsonl(store: SuggestionStore, suggestions, db) -> None:
    store.save(suggestions)
    accepted, edited, rejected = suggestions
    store.record_feedback("acme", accepted.id, "accepted", actor="U1", channel="slack")
    edit = "【AI草稿，发送前请修改】\n您好，请拨打我的手机13812345678，我发案例给您。"
    store.record_feedback("acme", edited.id, "edited", edited_text=edit, actor="U2")
    store.record_feedback("acme", rejected.id, "rejected", actor="U1")

    with db.session() as session:
        stored = {f.suggestion_id: f for f in session.query(SuggestionFeedback).all()}
        statuses = {r.id: r.status for r in session.query(SuggestionRow).all()}
    assert statuses == {accepted.id: "accepted", edited.id: "edited", rejected.id: "rejected"}
    assert "13812345678" not in stored[edited.id].edited_text and "<PHONE_1>" in stored[edited.id].edited_text

    out = io.StringIO()
    assert store.export_jsonl("acme", out) == 3
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["decision"] for r in rows] == ["accepted", "edited", "rejected"]
    assert rows[0]["final_text"] == rows[0]["draft"] and not rows[0]["draft"].startswith("【AI草稿")
    assert rows[1]["final_text"].startswith("您好") and "<PHONE_1>" in rows[1]["final_text"]
    assert rows[2]["final_text"] is None
    assert {r["language"] for r in rows} == {"zh"}
    assert rows[0]["evidence"]["predictions"][0]["label"] == "budget_freeze"
    assert set(rows[0]) >= {"suggestion_id", "lead_id", "rule", "action", "confidence", "label", "created_at"}
    assert store.export_jsonl("globex", io.StringIO()) == 0


def test_export_to_a_file(store: SuggestionStore, suggestions, tmp_path) -> None:
    store.save(suggestions[:1])
    store.record_feedback("acme", suggestions[0].id, "accepted")
    path = tmp_path / "feedback.jsonl"
    assert store.export_jsonl("acme", path) == 1
    assert json.loads(path.read_text(encoding="utf-8"))["decision"] == "accepted"


def test_bad_feedback_is_refused(store: SuggestionStore, suggestions) -> None:
    store.save(suggestions[:1])
    sid = suggestions[0].id
    with pytest.raises(InvalidArgument, match="decision must be one of"):
        store.record_feedback("acme", sid, "loved")
    with pytest.raises(InvalidArgument, match="needs the edited text"):
        store.record_feedback("acme", sid, "edited", edited_text="  ")
    with pytest.raises(NotFound):
        store.record_feedback("globex", sid, "accepted")  # another tenant's suggestion
    with pytest.raises(NotFound):
        store.record_feedback("acme", "nope", "accepted")
