"""The channel contract: turn a suggestion into one HTTP request, and tell success from failure.

A channel only ever sees an :class:`OutgoingSuggestion` — ids, labels, confidences and the redacted draft —
so no raw customer text can leave through it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.suggestions.domain import AI_DRAFT_MARKERS, Suggestion
from services.suggestions.signing import IDEMPOTENCY_HEADER

BUTTON_TEXT = {
    "en": {"accept": "Accept", "edit": "Edit", "reject": "Reject"},
    "zh": {"accept": "采纳", "edit": "编辑", "reject": "拒绝"},
}
FIELD_TEXT = {
    "en": {"confidence": "Confidence", "why": "Why", "lead": "Lead", "evidence": "Evidence", "similar": "Won before"},
    "zh": {"confidence": "置信度", "why": "依据", "lead": "线索", "evidence": "证据", "similar": "成功先例"},
}


@dataclass(frozen=True)
class OutgoingSuggestion:
    """What leaves salesai for a chat tool: nothing but redacted, rep-facing fields."""

    suggestion_id: str
    lead_id: str
    action: str
    title: str
    confidence: float
    language: str
    draft: str
    reason: str
    evidence: list[str] = field(default_factory=list)  # "price_objection 0.91 (message 3f2a…)"
    similar: list[str] = field(default_factory=list)

    @classmethod
    def from_suggestion(cls, s: Suggestion) -> OutgoingSuggestion:
        lang = s.draft.language
        ev = s.evidence
        return cls(
            suggestion_id=s.id,
            lead_id=s.lead_id,
            action=s.action,
            title=s.title,
            confidence=s.confidence,
            language=lang,
            draft=s.draft.text,
            reason=ev.reason_zh if lang == "zh" else ev.reason_en,
            evidence=[f"{p.label} {p.confidence:.2f} ({p.interaction_id[:8]})" for p in ev.predictions]
            + [f.text_zh if lang == "zh" else f.text_en for f in ev.factors if f.text_en or f.text_zh],
            similar=[f"{c.text[:120]} ({c.score:.2f})" for c in ev.similar],
        )

    @property
    def marker(self) -> str:
        return AI_DRAFT_MARKERS.get(self.language, AI_DRAFT_MARKERS["en"])

    def label(self, key: str) -> str:
        return FIELD_TEXT.get(self.language, FIELD_TEXT["en"])[key]

    def button(self, key: str) -> str:
        return BUTTON_TEXT.get(self.language, BUTTON_TEXT["en"])[key]

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class ChannelConfig(BaseModel):
    """One configured destination, e.g. ``{"name": "sales-team", "kind": "slack", "url": "https://hooks..."}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    kind: str
    url: str = Field(pattern=r"^https?://")
    secret: SecretStr | None = None
    options: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingRequest:
    url: str
    body: bytes
    headers: dict[str, str]


class Channel(ABC):
    """Base class of channel plugins; subclasses set ``kind`` and implement :meth:`payload`."""

    kind: ClassVar[str]

    def __init__(self, config: ChannelConfig) -> None:
        self.config = config
        self.name = config.name

    @property
    def secret(self) -> str | None:
        return self.config.secret.get_secret_value() if self.config.secret else None

    @abstractmethod
    def payload(self, message: OutgoingSuggestion, *, idempotency_key: str, now: float) -> dict[str, Any]:
        """The JSON document this channel posts."""

    def request(self, message: OutgoingSuggestion, *, idempotency_key: str, now: float) -> OutgoingRequest:
        body = json.dumps(self.payload(message, idempotency_key=idempotency_key, now=now), ensure_ascii=False)
        headers = {"Content-Type": "application/json; charset=utf-8", IDEMPOTENCY_HEADER: idempotency_key}
        return OutgoingRequest(self.config.url, body.encode("utf-8"), headers)

    def body_error(self, response: httpx.Response) -> str | None:
        """A 2xx response may still report an error in its body (Feishu, WeCom); None when it does not."""
        return None


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
