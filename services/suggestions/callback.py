"""The rep pressed a button (accept / edit / reject): verify the request, parse which suggestion and what.

Framework-agnostic: :func:`parse_callback` takes the headers, the *raw* body bytes and the secret, and returns a
:class:`CallbackAction` or raises :class:`~services.suggestions.signing.InvalidSignature` (401; ``ExpiredSignature``
for a stale timestamp) or ``InvalidArgument`` (422) for a signed but malformed body. Two schemes:

* **salesai** (our generic webhook, and any client that signs like it — see :mod:`services.suggestions.signing`):
  JSON body ``{"suggestion_id": "...", "action": "accept|edit|reject", "edited_text": "...", "actor": "..."}``.
* **slack** interactivity: ``X-Slack-Signature: v0=<HMAC-SHA256(signing secret, "v0:<ts>:<body>")>`` with
  ``X-Slack-Request-Timestamp``; form body ``payload=<JSON block_actions>``; our buttons carry
  ``action_id = "salesai_<action>"`` and ``value = <suggestion id>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.common.errors import InvalidArgument
from services.suggestions.signing import DEFAULT_TOLERANCE_S, InvalidSignature, check_timestamp, header, verify

ButtonAction = Literal["accept", "edit", "reject"]
BUTTONS: tuple[str, ...] = ("accept", "edit", "reject")
DECISION_OF = {"accept": "accepted", "edit": "edited", "reject": "rejected"}
SLACK_ACTION_PREFIX = "salesai_"


@dataclass(frozen=True)
class CallbackAction:
    """A verified button press. ``edit`` without ``edited_text`` means: open an editor for the rep."""

    suggestion_id: str
    action: ButtonAction
    scheme: str
    actor: str = ""
    edited_text: str = ""
    trigger_id: str = ""  # Slack: lets the caller open an edit modal within 3 s

    @property
    def decision(self) -> str:
        return DECISION_OF[self.action]


class CallbackScheme(Protocol):
    name: str

    def applies(self, headers: Mapping[str, str]) -> bool: ...

    def parse(
        self, headers: Mapping[str, str], body: bytes, secret: str, now: float | None, tolerance_s: int
    ) -> CallbackAction: ...


def _action(suggestion_id: Any, action: Any, scheme: str, **extra: str) -> CallbackAction:
    if not isinstance(suggestion_id, str) or not suggestion_id:
        raise InvalidArgument("callback names no suggestion", field="suggestion_id")
    if action not in BUTTONS:
        raise InvalidArgument(f"callback action must be one of {', '.join(BUTTONS)}", field="action")
    return CallbackAction(suggestion_id=suggestion_id, action=action, scheme=scheme, **extra)


def _json(raw: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("callback body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidArgument("callback body must be a JSON object")
    return data


class SalesAIScheme:
    name = "salesai"

    def applies(self, headers: Mapping[str, str]) -> bool:
        return header(headers, "X-SalesAI-Signature") is not None

    def parse(
        self, headers: Mapping[str, str], body: bytes, secret: str, now: float | None, tolerance_s: int
    ) -> CallbackAction:
        verify(headers, body, secret, now=now, tolerance_s=tolerance_s)
        data = _json(body)
        text = data.get("edited_text") or ""
        return _action(
            data.get("suggestion_id"),
            data.get("action"),
            self.name,
            actor=str(data.get("actor", "")),
            edited_text=str(text),
        )


class SlackScheme:
    name = "slack"

    def applies(self, headers: Mapping[str, str]) -> bool:
        return header(headers, "X-Slack-Signature") is not None

    def parse(
        self, headers: Mapping[str, str], body: bytes, secret: str, now: float | None, tolerance_s: int
    ) -> CallbackAction:
        raw_ts = header(headers, "X-Slack-Request-Timestamp")
        check_timestamp(raw_ts, now, tolerance_s)
        expected = "v0=" + hmac.new(secret.encode(), f"v0:{raw_ts}:".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(header(headers, "X-Slack-Signature") or "", expected):
            raise InvalidSignature("bad signature")
        form = parse_qs(body.decode("utf-8", "replace"))
        payload = _json(form.get("payload", [""])[0])
        pressed = (payload.get("actions") or [{}])[0]
        action_id = str(pressed.get("action_id", ""))
        return _action(
            pressed.get("value"),
            action_id.removeprefix(SLACK_ACTION_PREFIX),
            self.name,
            actor=str((payload.get("user") or {}).get("id", "")),
            trigger_id=str(payload.get("trigger_id", "")),
        )


SCHEMES: tuple[CallbackScheme, ...] = (SalesAIScheme(), SlackScheme())


def parse_callback(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> CallbackAction:
    """Verify and parse a button callback (see the module docstring); never trust a body before this returns."""
    if not secret:
        raise InvalidSignature("no callback secret configured")
    for scheme in SCHEMES:
        if scheme.applies(headers):
            return scheme.parse(headers, body, secret, now, tolerance_s)
    raise InvalidSignature("unsigned callback")


class CallbackChannel(BaseModel):
    """Who may call back on one channel: the tenant whose suggestions its buttons act on, and the shared secret
    (the Slack app's signing secret, or the secret our webhook channel signs with)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=64)
    secret: SecretStr
