"""Bank cards (Luhn, issuer prefixes, 15-19 digits) and IBANs: positives and look-alikes."""

from __future__ import annotations

import pytest


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit (independent implementation)."""
    digits = [int(c) for c in partial][::-1]
    total = sum(sum(divmod(d * 2, 10)) if i % 2 == 0 else d for i, d in enumerate(digits))
    return partial + str((10 - total % 10) % 10)


def broken(card: str) -> str:
    return card[:-1] + str((int(card[-1]) + 1) % 10)


UNIONPAY_19 = luhn_complete("622202100112345678")
UNIONPAY_16 = luhn_complete("622848001234567")
VISA = luhn_complete("411111111111111")
MASTER = luhn_complete("545454545454545")
AMEX = luhn_complete("37828224631000")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def grouped(card: str, sep: str = " ") -> str:
    return sep.join(card[i : i + 4] for i in range(0, len(card), 4))


@pytest.mark.parametrize(
    "text, value",
    [
        (f"卡号{UNIONPAY_19}", UNIONPAY_19),
        (f"银行卡：{grouped(UNIONPAY_19)}。", grouped(UNIONPAY_19)),
        (f"借记卡 {grouped(UNIONPAY_16, '-')}", grouped(UNIONPAY_16, "-")),
        (f"卡号：{grouped(UNIONPAY_19, '-')}，谢谢", grouped(UNIONPAY_19, "-")),  # 19-digit UnionPay, dashes
        (f"Visa {grouped(VISA)} exp 12/27", grouped(VISA)),
        (f"mastercard {MASTER}", MASTER),
        (f"Amex {AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}", f"{AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}"),
        (f"卡号{UNIONPAY_16.translate(FULLWIDTH)}", UNIONPAY_16.translate(FULLWIDTH)),
        (f"{UNIONPAY_19}是我的卡", UNIONPAY_19),
    ],
)
def test_card_found(detect, text: str, value: str) -> None:
    assert ("BANK_CARD", value) in detect(text)


@pytest.mark.parametrize(
    "text",
    [
        f"卡号{broken(UNIONPAY_19)}",  # Luhn fails
        f"卡号{broken(VISA)}",
        "订单号2024031500123456",  # order number
        f"订单号{VISA}",  # Luhn-valid by chance, but an order number
        "tracking 9400111899223857269834",  # 22 digits
        "金额¥12,800.00，数量 1,000,000",
        "序列号 1234 5678 9012 3456",  # no issuer / Luhn
        "2024-03-15 2024-03-16 2024-03-17",
    ],
)
def test_card_look_alikes_survive(detect, text: str) -> None:
    assert not any(t == "BANK_CARD" for t, _ in detect(text))


@pytest.mark.parametrize(
    "text, value",
    [
        ("IBAN DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00"),
        ("账户GB82WEST12345698765432，谢谢", "GB82WEST12345698765432"),
    ],
)
def test_iban_found(detect, text: str, value: str) -> None:
    assert ("IBAN", value) in detect(text)


@pytest.mark.parametrize("text", ["IBAN DE89 3704 0044 0532 0130 01", "model GB82WEST12345698765433"])
def test_iban_bad_checksum(detect, text: str) -> None:
    assert not any(t == "IBAN" for t, _ in detect(text))
