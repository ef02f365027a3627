"""Next-action suggestions: playbook rules over a lead's redacted history → ranked, evidenced, editable drafts.

Library first (the gRPC ``Suggest`` service and REST endpoints wrap it)::

    playbook = load_playbook()                                   # playbook.yaml, validated
    engine = SuggestionEngine(playbook, similar=SimilarSituations.local(path, encoder))
    suggestions = engine.suggest(lead, interactions)             # most confident first, never auto-sent

Modules: ``domain`` (input/output types), ``conditions`` and ``playbook`` (rules), ``engine``, ``similar``
(Qdrant), ``feedback`` (stored suggestions, rep verdicts, JSONL export), ``channels/`` (delivery plugins),
``delivery`` (retries, idempotency, log), ``signing`` and ``callback`` (HMAC), ``triggers`` (when rules fire).
"""

from services.suggestions.domain import (
    AI_DRAFT_MARKERS,
    Draft,
    Evidence,
    InteractionView,
    LeadContext,
    Prediction,
    ScoreFactor,
    SimilarCase,
    Span,
    Suggestion,
)
from services.suggestions.engine import SuggestionEngine
from services.suggestions.playbook import Playbook, PlaybookError, load_playbook, parse_playbook

__all__ = [
    "AI_DRAFT_MARKERS",
    "Draft",
    "Evidence",
    "InteractionView",
    "LeadContext",
    "Playbook",
    "PlaybookError",
    "Prediction",
    "ScoreFactor",
    "SimilarCase",
    "Span",
    "Suggestion",
    "SuggestionEngine",
    "load_playbook",
    "parse_playbook",
]
