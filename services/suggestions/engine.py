"""The suggestion engine: playbook rules over a lead's recent history → ranked suggestions with evidence.

Confidence of a suggestion (documented contract, in [0, 1])::

    confidence = rule.strength × action.weight × Π support(condition)

``rule.strength`` is how often the playbook author expects the rule to be right, ``action.weight`` how much
the action is worth when the rule fires, and each condition's *support* is the mean calibrated confidence of
the predictions it relied on (1.0 for facts: elapsed time, the lead score). Conditions are ANDed, so their
supports multiply. When several rules propose the same action, the most confident one is kept. Suggestions
are ordered by confidence (descending), then action name, then rule id — the same input always gives the same
output. Similar past situations are attached as evidence and do not change the confidence.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from services.suggestions.conditions import History, Match
from services.suggestions.domain import (
    AI_DRAFT_MARKERS,
    Draft,
    Evidence,
    InteractionView,
    LeadContext,
    PredictionEvidence,
    SimilarCase,
    Suggestion,
)
from services.suggestions.playbook import Action, Playbook, Rule

log = logging.getLogger(__name__)


class SimilarFinder(Protocol):
    def search(
        self,
        tenant_id: str,
        text: str,
        *,
        limit: int = 3,
        outcome: str | None = "won",
        vector: Sequence[float] | None = None,
    ) -> list[SimilarCase]:
        """Past redacted messages of ``tenant_id`` closest to ``text`` (best first); ``vector``: its embedding,
        when the caller has one."""
        ...


def customer_language(lead: LeadContext, history: History) -> str:
    """``zh`` or ``en``: the lead's language, else the latest message's ("mixed" messages get Chinese)."""
    lang = lead.language or (history.latest.language if history.latest else "en")
    return "zh" if lang in {"zh", "mixed"} or lang.startswith("zh") else "en"


def suggestion_id(tenant_id: str, lead_id: str, rule: str, action: str, anchor: str) -> str:
    """Deterministic: re-evaluating the same history (e.g. a periodic scan) yields the same id."""
    return hashlib.sha256(f"{tenant_id}\x1f{lead_id}\x1f{rule}\x1f{action}\x1f{anchor}".encode()).hexdigest()[:32]


class SuggestionEngine:
    def __init__(self, playbook: Playbook, *, similar: SimilarFinder | None = None, similar_limit: int = 3) -> None:
        self.playbook = playbook
        self.similar = similar
        self.similar_limit = similar_limit

    def suggest(
        self,
        lead: LeadContext,
        interactions: Sequence[InteractionView],
        *,
        now: datetime | None = None,
        rules: Sequence[Rule] | None = None,
    ) -> list[Suggestion]:
        """Evaluate ``rules`` (default: every rule) on the history; the suggestions, most confident first."""
        history = History(tuple(interactions), lead, now or datetime.now(UTC))
        language = customer_language(lead, history)
        best: dict[str, Suggestion] = {}
        searched: dict[str, tuple[SimilarCase, ...]] = {}  # anchor text -> similar cases: one search per text
        for rule in rules if rules is not None else self.playbook.rules:
            matches = self._matches(rule, history)
            if matches is None:
                continue
            evidence = self._evidence(matches, history, searched)
            for name in rule.actions:
                candidate = self._suggestion(rule, name, matches, evidence, history, language)
                if name not in best or candidate.confidence > best[name].confidence:
                    best[name] = candidate
        return sorted(best.values(), key=lambda s: (-s.confidence, s.action, s.rule))

    @staticmethod
    def _matches(rule: Rule, history: History) -> list[Match] | None:
        matches = []
        for condition in rule.when.conditions():
            match = condition.check(history)
            if match is None:
                return None
            matches.append(match)
        return matches

    def _evidence(
        self, matches: list[Match], history: History, searched: dict[str, tuple[SimilarCase, ...]]
    ) -> Evidence:
        predictions: dict[tuple[str, str], PredictionEvidence] = {}
        for match in matches:
            predictions.update({(p.interaction_id, p.task): p for p in match.predictions})
        order = {item.id: n for n, item in enumerate(history.interactions)}
        ranked = sorted(predictions.values(), key=lambda p: (order.get(p.interaction_id, -1), p.task))
        ids = tuple(dict.fromkeys(p.interaction_id for p in ranked))
        return Evidence(
            interaction_ids=ids,
            predictions=tuple(ranked),
            factors=tuple(f for m in matches for f in m.factors),
            facts={k: v for m in matches for k, v in m.facts.items()},
            similar=self._similar(history, ids, searched),
            reason_en="; ".join(m.reason_en for m in matches),
            reason_zh="；".join(m.reason_zh for m in matches),
        )

    def _similar(
        self, history: History, ids: tuple[str, ...], searched: dict[str, tuple[SimilarCase, ...]]
    ) -> tuple[SimilarCase, ...]:
        """Similar won cases for the message the evidence rests on (several rules on one message: one search)."""
        if self.similar is None or not history.interactions:
            return ()
        anchor = next((i for i in reversed(history.interactions) if i.id in ids), history.latest)
        assert anchor is not None
        if not anchor.text.strip():
            return ()
        if anchor.text not in searched:
            searched[anchor.text] = self._search(history, anchor)
        return searched[anchor.text]

    def _search(self, history: History, anchor: InteractionView) -> tuple[SimilarCase, ...]:
        assert self.similar is not None
        try:
            found = self.similar.search(
                history.lead.tenant_id,
                anchor.text,
                limit=self.similar_limit,
                outcome="won",
                vector=anchor.embedding or None,
            )
        except Exception:  # noqa: BLE001 - similar cases are supporting evidence; a vector-store outage must not stop suggestions
            log.warning("similar-situation search failed; suggesting without it", exc_info=True)
            return ()
        return tuple(found)

    def _suggestion(
        self, rule: Rule, name: str, matches: list[Match], evidence: Evidence, history: History, language: str
    ) -> Suggestion:
        action = self.playbook.actions[name]
        confidence = rule.strength * action.weight * math.prod(m.support for m in matches)
        anchor = evidence.interaction_ids[-1] if evidence.interaction_ids else (history.latest or _NO_MESSAGE).id
        lead = history.lead
        return Suggestion(
            id=suggestion_id(lead.tenant_id, lead.lead_id, rule.id, name, anchor),
            tenant_id=lead.tenant_id,
            lead_id=lead.lead_id,
            rule=rule.id,
            action=name,
            audience=action.audience,
            title=action.title.get(language).format_map(_fields(rule, evidence, lead)),
            confidence=round(min(1.0, max(0.0, confidence)), 4),
            evidence=evidence,
            draft=render_draft(action, rule, evidence, lead, language),
        )


_NO_MESSAGE = InteractionView(id="", occurred_at=datetime(1970, 1, 1, tzinfo=UTC))


def _fields(rule: Rule, evidence: Evidence, lead: LeadContext) -> dict[str, object]:
    hours = evidence.facts.get("hours_since_last_touch")
    return {
        "lead_id": lead.lead_id,
        "count": int(evidence.facts.get("intent_count", len(evidence.interaction_ids))),
        "hours": "" if hours is None else int(hours),
        "score": "" if lead.score is None else f"{lead.score:.2f}",
        **rule.params,
    }


def render_draft(action: Action, rule: Rule, evidence: Evidence, lead: LeadContext, language: str) -> Draft:
    """The action's draft in ``language``, prefixed with the AI-draft marker."""
    body = action.draft.get(language).format_map(_fields(rule, evidence, lead))
    return Draft(language=language, text=f"{AI_DRAFT_MARKERS[language]}\n{body}")
