"""WeCom (企业微信): a ``template_card`` of type ``button_interaction``, sent as an application message.

``{"touser", "msgtype": "template_card", "agentid", "template_card": {"card_type": "button_interaction",
"source", "main_title": {"title", "desc"}, "sub_title_text", "horizontal_content_list", "task_id",
"button_list": [{"text", "style", "key"}]}}``. ``task_id`` is the idempotency key; a button's ``key`` is
``<action>:<suggestion id>`` and comes back in WeCom's template-card event. Options: ``touser`` (default
``@all``), ``agentid`` (required by WeCom). The URL carries the access token
(``https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=...``). A 200 response reports errors as
``{"errcode": <non-zero>, "errmsg": ...}``. Limits: title 36, desc 44, sub-title 112 characters, 6 buttons.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.suggestions.callback import BUTTONS
from services.suggestions.channels import register_channel
from services.suggestions.channels.base import Channel, OutgoingSuggestion, truncate

BUTTON_STYLES = {"accept": 1, "edit": 2, "reject": 3}


@register_channel
class WeComChannel(Channel):
    kind = "wecom"

    def payload(self, message: OutgoingSuggestion, *, idempotency_key: str, now: float) -> dict[str, Any]:
        card = {
            "card_type": "button_interaction",
            "source": {"desc": "salesai"},
            "main_title": {"title": truncate(message.title, 36), "desc": truncate(message.reason, 44)},
            "sub_title_text": truncate(message.draft, 112),
            "horizontal_content_list": [
                {"keyname": message.label("confidence"), "value": f"{message.confidence:.2f}"},
                {"keyname": message.label("lead"), "value": truncate(message.lead_id, 30)},
            ],
            "task_id": idempotency_key,
            "button_list": [
                {"text": message.button(k), "style": BUTTON_STYLES[k], "key": f"{k}:{message.suggestion_id}"}
                for k in BUTTONS
            ],
        }
        return {
            "touser": str(self.config.options.get("touser", "@all")),
            "msgtype": "template_card",
            "agentid": int(self.config.options.get("agentid", 0)),
            "template_card": card,
        }

    def body_error(self, response: httpx.Response) -> str | None:
        try:
            data = response.json()
        except ValueError:
            return None
        code = data.get("errcode", 0) if isinstance(data, dict) else 0
        return None if code == 0 else f"wecom errcode {code}"
