"""E-mail, WeChat, QQ and IP addresses."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "text, value",
    [
        ("邮箱zhang@x.com", "zhang@x.com"),
        ("邮箱：wang.planted@example.com。谢谢", "wang.planted@example.com"),
        ("发到li_si+crm@mail.example.com.cn吧", "li_si+crm@mail.example.com.cn"),
        ("email ｚｈａｎｇ＠ｘ．ｃｏｍ please", "ｚｈａｎｇ＠ｘ．ｃｏｍ"),
        ("Write to John.Doe@Acme.io.", "John.Doe@Acme.io"),
    ],
)
def test_email_found(detect, text: str, value: str) -> None:
    assert ("EMAIL_ADDRESS", value) in detect(text)


@pytest.mark.parametrize("text", ["logo@2x.png", "@张三 你好", "price@100", "a..b@x", "user@localhost"])
def test_email_look_alikes(detect, text: str) -> None:
    assert not any(t == "EMAIL_ADDRESS" for t, _ in detect(text))


@pytest.mark.parametrize(
    "text, value",
    [
        ("微信号zhang_wei88", "zhang_wei88"),
        ("加我微信：wxid_abc12345", "wxid_abc12345"),
        ("vx: Sales-Lee2024", "Sales-Lee2024"),
        ("WeChat ID is lily_chen_01", "lily_chen_01"),
        ("微信也是 tom_hanks99", "tom_hanks99"),
    ],
)
def test_wechat_found(detect, text: str, value: str) -> None:
    assert ("WECHAT_ID", value) in detect(text)


@pytest.mark.parametrize(
    "text, value",
    [("QQ：123456789", "123456789"), ("扣扣 87654321 加一下", "87654321"), ("qq号是10001", "10001")],
)
def test_qq_found(detect, text: str, value: str) -> None:
    assert ("QQ_NUMBER", value) in detect(text)


@pytest.mark.parametrize("text", ["zhang_wei88 发了报价", "编号123456789", "我们的QQ群很活跃", "QQ音乐会员 2024"])
def test_wechat_qq_need_cue(detect, text: str) -> None:
    assert not {t for t, _ in detect(text)} & {"WECHAT_ID", "QQ_NUMBER"}


@pytest.mark.parametrize(
    "text, value",
    [
        ("服务器IP是10.0.0.23", "10.0.0.23"),
        ("from 192.168.1.100.", "192.168.1.100"),
        ("ipv6 2001:db8::8a2e:370:7334 ok", "2001:db8::8a2e:370:7334"),
    ],
)
def test_ip_found(detect, text: str, value: str) -> None:
    assert ("IP_ADDRESS", value) in detect(text)


@pytest.mark.parametrize("text", ["v2.3.1", "版本 1.2.3.4", "version 10.0.19045.1", "10:30:00", "256.1.1.1", "3.14"])
def test_ip_look_alikes(detect, text: str) -> None:
    assert not any(t == "IP_ADDRESS" for t, _ in detect(text))
