"""The engine on the default playbook: which suggestions fire, their evidence, drafts, confidence and order."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from services.suggestions import AI_DRAFT_MARKERS, LeadContext, ScoreFactor, SuggestionEngine
from services.suggestions.playbook import Playbook

BUDGET_ZH = "我是<PERSON_1>，手机<PHONE_1>，预算冻结了，下季度再说"
BUDGET_EN = "Hi, <PERSON_1> here. Our budget is frozen until next quarter, sorry."


def by_action(suggestions):
    return {s.action: s for s in suggestions}


def test_budget_freeze_pauses_quotes_and_alerts_the_manager_with_evidence(engine, lead, make_interaction) -> None:
    history = [
        make_interaction("m1", "Could you send the pricing?", hours_ago=30, intent="pricing_inquiry", risk="low"),
        make_interaction(
            "m2", BUDGET_ZH, hours_ago=1, intent="budget_freeze", intent_confidence=0.97, risk="high",
            risk_confidence=0.81, language="zh", evidence_words=("预算", "冻结"),
        ),
    ]  # fmt: skip
    found = by_action(engine.suggest(lead, history, now=history[-1].occurred_at + timedelta(minutes=5)))
    assert {"pause_quote_pushes", "alert_manager", "offer_case_study"} <= set(found)
    for action in ("pause_quote_pushes", "alert_manager"):
        s = found[action]
        assert s.rule == "budget_freeze"
        assert s.evidence.interaction_ids == ("m2",)
        (pred,) = s.evidence.predictions
        assert (pred.interaction_id, pred.task, pred.label, pred.confidence) == ("m2", "intent", "budget_freeze", 0.97)
        at = BUDGET_ZH.index("预算冻结")
        assert [(sp.start, sp.end, sp.text) for sp in pred.spans] == [(at, at + 2, "预算"), (at + 2, at + 4, "冻结")]
        assert all(BUDGET_ZH[sp.start : sp.end] == sp.text for sp in pred.spans)
        assert "预算冻结" in s.evidence.reason_zh and "budget_freeze" in s.evidence.reason_en
        assert s.auto_send is False


def test_confidence_follows_the_documented_formula(now, engine, playbook: Playbook, lead, make_interaction) -> None:
    msg = make_interaction("m1", BUDGET_EN, hours_ago=1, intent="budget_freeze", intent_confidence=0.8)
    found = by_action(engine.suggest(lead, [msg], now=now))
    rule = next(r for r in playbook.rules if r.id == "budget_freeze")
    for name in rule.actions:
        expected = rule.strength * playbook.actions[name].weight * 0.8
        assert math.isclose(found[name].confidence, round(expected, 4))


def test_repeated_price_objections_suggest_a_discount_citing_the_last_three(
    now, engine, lead, make_interaction
) -> None:
    texts = ["Your price is too high.", "Can you cut the price?", "Still too expensive for us.", "Too pricey."]
    history = [
        make_interaction("old", "Tell me about SSO.", hours_ago=200, intent="info_request"),
        *(
            make_interaction(f"p{n}", t, hours_ago=50 - 10 * n, intent="price_objection", intent_confidence=c)
            for n, (t, c) in enumerate(zip(texts[:3], (0.9, 0.8, 0.7), strict=True))
        ),
    ]
    found = by_action(engine.suggest(lead, history, now=now))
    discount = found["offer_discount"]
    assert discount.evidence.interaction_ids == ("p0", "p1", "p2")
    assert [p.label for p in discount.evidence.predictions] == ["price_objection"] * 3
    assert discount.evidence.reason_en == "3 of the last 3 messages were price_objection"
    assert discount.title == "Offer a 5% discount" and "5% discount" in discount.draft.text
    assert math.isclose(discount.confidence, round(0.8 * 0.9 * (0.9 + 0.8 + 0.7) / 3, 4))


def test_two_price_objections_out_of_three_are_not_enough(now, engine, lead, make_interaction) -> None:
    history = [
        make_interaction("p1", "Too expensive.", hours_ago=30, intent="price_objection"),
        make_interaction("d1", "Can we see a demo?", hours_ago=20, intent="demo_request"),
        make_interaction("p2", "The price is high.", hours_ago=10, intent="price_objection"),
    ]
    assert "offer_discount" not in by_action(engine.suggest(lead, history, now=now))


@pytest.mark.parametrize(
    ("score", "hours_ago", "fires"),
    [(0.85, 60, True), (0.85, 30, False), (0.4, 60, False), (None, 60, False)],
)
def test_a_stale_hot_lead_gets_a_follow_up_task(now, engine, make_interaction, score, hours_ago, fires) -> None:
    factors = (
        ScoreFactor(feature="demo_requested", value=1, contribution=1.2, text_en="demo requested raised the score"),
        ScoreFactor(feature="days_since_last_touch", value=3, contribution=-0.4),
        ScoreFactor(feature="price_inquiries_30d", value=4, contribution=0.6),
    )
    lead = LeadContext(tenant_id="acme", lead_id="hot-1", score=score, factors=factors)
    history = [make_interaction("m1", "Thanks, looks good.", hours_ago=hours_ago, intent="positive_feedback")]
    found = by_action(engine.suggest(lead, history, now=now))
    assert ("follow_up_task" in found) is fires
    if fires:
        s = found["follow_up_task"]
        assert s.evidence.facts["hours_since_last_touch"] == pytest.approx(60)
        assert s.evidence.facts["lead_score"] == 0.85
        assert [f.feature for f in s.evidence.factors] == ["demo_requested", "price_inquiries_30d"]
        assert s.title == "Follow up: no touch for 60 h"


def test_last_touch_overrides_the_latest_message(now, engine, make_interaction) -> None:
    history = [make_interaction("m1", "ok", hours_ago=100, intent="other")]
    recent = history[0].occurred_at + timedelta(hours=90)
    lead = LeadContext(tenant_id="acme", lead_id="hot-1", score=0.9, last_touch_at=recent)
    assert "follow_up_task" not in by_action(engine.suggest(lead, history, now=now))


@pytest.mark.parametrize(
    ("language", "lead_language", "expected"),
    [("zh", None, "zh"), ("en", None, "en"), ("mixed", None, "zh"), ("en", "zh", "zh")],
)
def test_drafts_are_in_the_customers_language_and_marked(
    now, engine, make_interaction, language, lead_language, expected
) -> None:
    lead = LeadContext(tenant_id="acme", lead_id="l1", language=lead_language)
    msg = make_interaction("m1", "…", hours_ago=1, intent="comparing_options", language=language)
    (s,) = engine.suggest(lead, [msg], now=now)
    assert s.action == "send_comparison_sheet"
    assert s.draft.language == expected and s.draft.ai_generated
    assert s.draft.text.startswith(AI_DRAFT_MARKERS[expected] + "\n")
    assert s.title == ("发送产品对比表" if expected == "zh" else "Send the comparison sheet")
    body = s.draft.text.splitlines()[1]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body) is (expected == "zh")


def test_ordering_is_by_confidence_deterministic_and_actions_are_deduplicated(
    now, engine, lead, make_interaction
) -> None:
    history = [
        make_interaction("m1", "Too expensive", hours_ago=5, intent="price_objection"),
        make_interaction("m2", "Too expensive", hours_ago=4, intent="price_objection"),
        make_interaction("m3", "We will switch", hours_ago=1, intent="churn_risk", intent_confidence=0.6, risk="high"),
    ]
    first = engine.suggest(lead, history, now=now)
    assert first == engine.suggest(lead, list(reversed(history)))  # input order does not matter
    confidences = [s.confidence for s in first]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    escalations = [s for s in first if s.action == "escalate_to_account_manager"]
    assert len(escalations) == 1  # churn_signal (0.9 × 0.6) loses to high_risk (0.8 × 0.8)
    assert escalations[0].rule == "high_risk" and escalations[0].confidence == 0.64
    assert len({s.id for s in first}) == len(first)


def test_low_confidence_predictions_do_not_fire_rules(now, engine, lead, make_interaction) -> None:
    msg = make_interaction("m1", "hmm", hours_ago=1, intent="budget_freeze", intent_confidence=0.3)
    assert engine.suggest(lead, [msg], now=now) == []


def test_no_history_no_suggestions(now, engine, lead) -> None:
    assert engine.suggest(lead, [], now=now) == []


def test_only_the_rules_asked_for_are_evaluated(now, playbook: Playbook, lead, make_interaction) -> None:
    engine = SuggestionEngine(playbook)
    msg = make_interaction("m1", BUDGET_EN, hours_ago=100, intent="budget_freeze")
    scan_only = engine.suggest(lead, [msg], rules=playbook.time_based_rules, now=now)
    assert scan_only == []


class _DownVectorStore:
    """A vector store that is unreachable (a boundary we do not own)."""

    def search(self, tenant_id: str, text: str, **kwargs: object) -> list:
        raise ConnectionError("qdrant down")


def test_a_vector_store_outage_does_not_stop_suggestions(now, playbook: Playbook, lead, make_interaction) -> None:
    engine = SuggestionEngine(playbook, similar=_DownVectorStore())
    msg = make_interaction("m1", BUDGET_EN, hours_ago=1, intent="budget_freeze")
    found = engine.suggest(lead, [msg], now=now)
    assert len(found) == 3 and all(s.evidence.similar == () for s in found)
