"""Phone numbers: CN mobile, CN landline, international; look-alike numbers must survive."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "text, value",
    [
        ("手机13812345678", "13812345678"),
        ("电话：138 1234 5678，", "138 1234 5678"),
        ("call 138-1234-5678", "138-1234-5678"),
        ("+86 139 8765 4321", "+86 139 8765 4321"),
        ("+8613987654321", "+8613987654321"),
        ("0086-15012345678", "0086-15012345678"),
        ("8618612345678 是我", "8618612345678"),
        ("(+86)17712345678", "(+86)17712345678"),
        ("手机：１３８１２３４５６７８", "１３８１２３４５６７８"),
        ("我的号码是19912345678谢谢", "19912345678"),
        ("座机010-62345678", "010-62345678"),
        ("电话(021)87654321转123", "(021)87654321转123"),
        ("office 0755 2345678", "0755 2345678"),
        ("电话02187654321", "02187654321"),
        ("whatsapp +44 20 7946 0958", "+44 20 7946 0958"),
        ("call me at (415) 555-0100", "(415) 555-0100"),
        ("phone: 415-555-0100", "415-555-0100"),
        ("+1 650 253 0000 is the office", "+1 650 253 0000"),
    ],
)
def test_phone_found(detect, text: str, value: str) -> None:
    assert ("PHONE_NUMBER", value) in detect(text)


@pytest.mark.parametrize(
    "text",
    [
        "订单号20240315001234",
        "订单13812345678",  # order context
        "发票代码044001900111",
        "发票号码12345678",
        "合计¥12,800.00，约5万",
        "2024-03-15 10:30",
        "2024年3月15日",
        "v2.3.1 released",
        "Quote Q-2024-0012",
        "RTX-4090 x 2, iPhone 15 Pro",
        "SKU 123-456-7890-12",
        "138123456789",  # 12 digits
        "12812345678",  # no such mobile prefix
        "invoice INV-13812345678",
    ],
)
def test_phone_look_alikes_survive(detect, text: str) -> None:
    assert not any(t == "PHONE_NUMBER" for t, _ in detect(text))
