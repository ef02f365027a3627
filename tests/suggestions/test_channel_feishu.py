"""Feishu interactive card: msg_type, header/elements/action structure, buttons, custom-bot signature."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest

from services.suggestions import LeadContext
from services.suggestions.channels import ChannelConfig, OutgoingSuggestion, build_channel
from services.suggestions.channels.feishu import bot_sign

TEMPLATES = {
    "blue",
    "wathet",
    "turquoise",
    "green",
    "yellow",
    "orange",
    "red",
    "carmine",
    "violet",
    "purple",
    "indigo",
    "grey",
}
URL = "https://open.feishu.cn/open-apis/bot/v2/hook/xyz"


@pytest.fixture
def message(engine, make_interaction, now) -> OutgoingSuggestion:
    msg = make_interaction("m1", "我们在比较几家供应商", hours_ago=1, intent="comparing_options", language="zh")
    (s,) = engine.suggest(LeadContext(tenant_id="acme", lead_id="lead-1"), [msg], now=now)
    return OutgoingSuggestion.from_suggestion(s)


def test_interactive_card_structure(message: OutgoingSuggestion) -> None:
    payload = build_channel(ChannelConfig(name="f", kind="feishu", url=URL)).payload(
        message, idempotency_key="k", now=0
    )
    assert payload["msg_type"] == "interactive" and set(payload) == {"msg_type", "card"}
    card = payload["card"]
    assert isinstance(card["config"]["wide_screen_mode"], bool)
    assert card["header"]["title"] == {"tag": "plain_text", "content": "发送产品对比表"}
    assert card["header"]["template"] in TEMPLATES
    elements = card["elements"]
    assert isinstance(elements, list) and elements
    for element in elements:
        assert element["tag"] in {"div", "hr", "note", "action", "markdown", "img"}
        if element["tag"] == "div":
            assert element["text"]["tag"] in {"plain_text", "lark_md"} and isinstance(element["text"]["content"], str)
        if element["tag"] == "note":
            assert all(e["tag"] in {"plain_text", "lark_md", "img"} for e in element["elements"])
    drafts = [e for e in elements if e["tag"] == "div" and e["text"]["content"].startswith("【AI草稿，发送前请修改】")]
    assert len(drafts) == 1
    (action,) = [e for e in elements if e["tag"] == "action"]
    buttons = action["actions"]
    assert [b["text"]["content"] for b in buttons] == ["采纳", "编辑", "拒绝"]
    for button, key in zip(buttons, ("accept", "edit", "reject"), strict=True):
        assert button["tag"] == "button" and button["text"]["tag"] == "plain_text"
        assert button["type"] in {"default", "primary", "danger"}
        assert button["value"] == {"suggestion_id": message.suggestion_id, "action": key}


def test_custom_bot_signature(message: OutgoingSuggestion) -> None:
    channel = build_channel(ChannelConfig(name="f", kind="feishu", url=URL, secret="bot-secret"))
    payload = channel.payload(message, idempotency_key="k", now=1_700_000_000)
    assert payload["timestamp"] == "1700000000"
    expected = hmac.new(b"1700000000\nbot-secret", b"", hashlib.sha256).digest()
    assert payload["sign"] == base64.b64encode(expected).decode() == bot_sign("bot-secret", 1_700_000_000)


def test_errors_reported_in_a_200_body() -> None:
    channel = build_channel(ChannelConfig(name="f", kind="feishu", url=URL))
    assert channel.body_error(httpx.Response(200, json={"code": 0, "msg": "success"})) is None
    assert (
        channel.body_error(httpx.Response(200, json={"code": 19021, "msg": "sign match fail"})) == "feishu code 19021"
    )
