"""Slack: a Block Kit message for an incoming webhook, with Accept / Edit / Reject buttons.

Blocks: ``header`` (plain_text title), ``section`` (mrkdwn: confidence, reason), ``section`` (the draft,
quoted), ``context`` (evidence, similar won cases) and ``actions`` with three ``button`` elements whose
``action_id`` is ``salesai_<accept|edit|reject>`` and ``value`` the suggestion id — what
:mod:`services.suggestions.callback` reads back. Slack's limits are respected: header text ≤ 150 characters,
section text ≤ 3000, button text ≤ 75, button value ≤ 2000. Text in mrkdwn escapes ``& < >`` (placeholders
such as ``<PHONE_1>`` would otherwise be read as links).
"""

from __future__ import annotations

from typing import Any

from services.suggestions.callback import BUTTONS, SLACK_ACTION_PREFIX
from services.suggestions.channels import register_channel
from services.suggestions.channels.base import Channel, OutgoingSuggestion, truncate

HEADER_MAX = 150
SECTION_MAX = 3000
BUTTON_TEXT_MAX = 75
STYLES = {"accept": "primary", "reject": "danger"}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(escape(text), SECTION_MAX)}


def _button(message: OutgoingSuggestion, key: str) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": f"{SLACK_ACTION_PREFIX}{key}",
        "text": {"type": "plain_text", "text": truncate(message.button(key), BUTTON_TEXT_MAX), "emoji": True},
        "value": message.suggestion_id,
    }
    if key in STYLES:
        button["style"] = STYLES[key]
    return button


@register_channel
class SlackChannel(Channel):
    kind = "slack"

    def payload(self, message: OutgoingSuggestion, *, idempotency_key: str, now: float) -> dict[str, Any]:
        summary = (
            f"*{message.label('confidence')}:* {message.confidence:.2f}   "
            f"*{message.label('lead')}:* {message.lead_id}\n"
            f"*{message.label('why')}:* {message.reason}"
        )
        quoted = "\n".join(f"> {escape(line)}" for line in message.draft.splitlines())
        context = [_mrkdwn(f"{message.label('evidence')}: " + "; ".join(message.evidence or ["—"]))]
        if message.similar:
            context.append(_mrkdwn(f"{message.label('similar')}: " + "; ".join(message.similar)))
        blocks = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": truncate(message.title, HEADER_MAX), "emoji": True},
            },
            {"type": "section", "text": _mrkdwn(summary)},
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(quoted, SECTION_MAX)}},
            {"type": "context", "elements": context},
            {
                "type": "actions",
                "block_id": f"salesai:{message.suggestion_id}",
                "elements": [_button(message, k) for k in BUTTONS],
            },
        ]
        return {"text": truncate(f"{message.title} — {message.marker}", SECTION_MAX), "blocks": blocks}
