"""Generic webhook: the suggestion as JSON, signed with HMAC-SHA256 (headers: :mod:`services.suggestions.signing`).

Body::

    {"type": "salesai.suggestion", "idempotency_key": "...", "suggestion": {suggestion_id, lead_id, action,
     title, confidence, language, draft, reason, evidence, similar}, "auto_send": false,
     "callback": {"actions": ["accept", "edit", "reject"]}}
"""

from __future__ import annotations

import json
from typing import Any

from services.suggestions.channels import register_channel
from services.suggestions.channels.base import Channel, OutgoingRequest, OutgoingSuggestion
from services.suggestions.signing import signed_headers


@register_channel
class WebhookChannel(Channel):
    kind = "webhook"

    def payload(self, message: OutgoingSuggestion, *, idempotency_key: str, now: float) -> dict[str, Any]:
        return {
            "type": "salesai.suggestion",
            "idempotency_key": idempotency_key,
            "suggestion": message.as_dict(),
            "auto_send": False,
            "callback": {"actions": ["accept", "edit", "reject"]},
        }

    def request(self, message: OutgoingSuggestion, *, idempotency_key: str, now: float) -> OutgoingRequest:
        base = super().request(message, idempotency_key=idempotency_key, now=now)
        if not self.secret:
            return base
        return OutgoingRequest(base.url, base.body, {**base.headers, **signed_headers(self.secret, base.body, now=now)})


def decode(body: bytes) -> dict[str, Any]:
    """Parse a webhook body (receivers and tests)."""
    return json.loads(body)
