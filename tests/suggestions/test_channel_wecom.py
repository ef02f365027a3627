"""WeCom template card (button_interaction): structure, limits, task id = idempotency key."""

from __future__ import annotations

import httpx

from services.suggestions import LeadContext
from services.suggestions.channels import ChannelConfig, OutgoingSuggestion, build_channel

URL = "https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=t"


def test_template_card_structure(engine, make_interaction, now) -> None:
    msg = make_interaction("m1", "预算冻结了", hours_ago=1, intent="budget_freeze", language="zh")
    s = engine.suggest(LeadContext(tenant_id="acme", lead_id="lead-1"), [msg], now=now)[0]
    config = ChannelConfig(name="w", kind="wecom", url=URL, options={"agentid": 1000002, "touser": "zhangsan"})
    payload = build_channel(config).payload(OutgoingSuggestion.from_suggestion(s), idempotency_key="abc123", now=0)
    assert (payload["msgtype"], payload["agentid"], payload["touser"]) == ("template_card", 1000002, "zhangsan")
    card = payload["template_card"]
    assert card["card_type"] == "button_interaction" and card["task_id"] == "abc123"
    assert len(card["main_title"]["title"]) <= 36 and card["main_title"]["title"] == "暂停推送报价"
    assert card["sub_title_text"].startswith("【AI草稿，发送前请修改】") and len(card["sub_title_text"]) <= 112
    assert all(set(item) == {"keyname", "value"} for item in card["horizontal_content_list"])
    assert 0 < len(card["button_list"]) <= 6
    assert [b["key"] for b in card["button_list"]] == [f"{a}:{s.id}" for a in ("accept", "edit", "reject")]
    assert all(b["style"] in {1, 2, 3, 4} for b in card["button_list"])


def test_errors_reported_in_a_200_body() -> None:
    channel = build_channel(ChannelConfig(name="w", kind="wecom", url=URL))
    assert channel.body_error(httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})) is None
    assert (
        channel.body_error(httpx.Response(200, json={"errcode": 40014, "errmsg": "invalid token"}))
        == "wecom errcode 40014"
    )
