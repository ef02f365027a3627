"""Feishu (Lark): an interactive message card for a custom bot webhook.

``{"msg_type": "interactive", "card": {"config", "header": {"title": {"tag": "plain_text"}, "template"},
"elements": [div(lark_md), div(plain_text draft), hr, note, action(buttons)]}}``. Each ``button`` carries
``value = {"suggestion_id", "action"}``, which Feishu posts back to the app's card callback URL. With a
secret, the body gets the custom bot's ``timestamp`` and ``sign`` = base64(HMAC-SHA256(key="<ts>\\n<secret>",
message="")). A 200 response reports errors as ``{"code": <non-zero>, "msg": ...}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from services.suggestions.callback import BUTTONS
from services.suggestions.channels import register_channel
from services.suggestions.channels.base import Channel, OutgoingSuggestion, truncate

BUTTON_TYPES = {"accept": "primary", "edit": "default", "reject": "danger"}
TEXT_MAX = 2000


def bot_sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _text(tag: str, content: str) -> dict[str, str]:
    return {"tag": tag, "content": truncate(content, TEXT_MAX)}


def _button(message: OutgoingSuggestion, key: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "text": _text("plain_text", message.button(key)),
        "type": BUTTON_TYPES[key],
        "value": {"suggestion_id": message.suggestion_id, "action": key},
    }


@register_channel
class FeishuChannel(Channel):
    kind = "feishu"

    def card(self, message: OutgoingSuggestion) -> dict[str, Any]:
        summary = (
            f"**{message.label('confidence')}**: {message.confidence:.2f}　"
            f"**{message.label('lead')}**: {message.lead_id}\n"
            f"**{message.label('why')}**: {message.reason}"
        )
        note = [_text("plain_text", f"{message.label('evidence')}: " + "; ".join(message.evidence or ["—"]))]
        if message.similar:
            note.append(_text("plain_text", f"{message.label('similar')}: " + "; ".join(message.similar)))
        return {
            "config": {"wide_screen_mode": True, "enable_forward": False},
            "header": {"title": _text("plain_text", message.title), "template": "blue"},
            "elements": [
                {"tag": "div", "text": _text("lark_md", summary.replace("<", "&lt;").replace(">", "&gt;"))},
                {"tag": "div", "text": _text("plain_text", message.draft)},
                {"tag": "hr"},
                {"tag": "note", "elements": note},
                {"tag": "action", "actions": [_button(message, k) for k in BUTTONS]},
            ],
        }

    def payload(self, message: OutgoingSuggestion, *, idempotency_key: str, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {"msg_type": "interactive", "card": self.card(message)}
        if self.secret:
            timestamp = int(now)
            body = {"timestamp": str(timestamp), "sign": bot_sign(self.secret, timestamp), **body}
        return body

    def body_error(self, response: httpx.Response) -> str | None:
        try:
            data = response.json()
        except ValueError:
            return None
        code = data.get("code", data.get("StatusCode", 0)) if isinstance(data, dict) else 0
        return None if code in (0, None) else f"feishu code {code}"
