"""CN resident IDs (18 and legacy 15), passports and US SSNs: positives and look-alike negatives."""

from __future__ import annotations

import pytest

from services.ingestion.redaction.checksums import cn_id_check_char, cn_id_valid

WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def check_char(first17: str) -> str:
    """Independent MOD 11-2 implementation (weights 2^(17-i) mod 11)."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def make_id(region: str = "310104", birth: str = "19850612", seq: str = "123") -> str:
    body = region + birth + seq
    return body + check_char(body)


def wrong_check(valid: str) -> str:
    return valid[:17] + ("0" if valid[17] != "0" else "1")


ID_A = make_id()
ID_X = next(i for i in (make_id(seq=f"{n:03d}") for n in range(1000)) if i.endswith("X"))
ID_B = make_id("440305", "20010229"[:4] + "0228", "456")


def test_independent_check_char_agrees_with_package() -> None:
    for n in range(200):
        body = f"11010{n % 10}1990{(n % 12) + 1:02d}{(n % 28) + 1:02d}{n:03d}"
        assert cn_id_check_char(body) == check_char(body)
    assert cn_id_valid("11010519491231002X")


@pytest.mark.parametrize(
    "text, value",
    [
        (f"身份证{ID_A}", ID_A),
        (f"身份证号：{ID_X}。", ID_X),
        (f"id: {ID_X.lower()}", ID_X.lower()),
        (f"证件 {ID_B[:6]} {ID_B[6:14]} {ID_B[14:]} 请核对", f"{ID_B[:6]} {ID_B[6:14]} {ID_B[14:]}"),
        (
            f"身份证{ID_A.translate(str.maketrans('0123456789X', '０１２３４５６７８９Ｘ'))}号",
            ID_A.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")),
        ),
        (f"My ID card is {ID_A}, thanks", ID_A),
        (f"{ID_A}", ID_A),
        ("身份证号码：320311770706001", "320311770706001"),
        ("old ID card 110105491231002 on file", "110105491231002"),
        ("老身份证 320311 770706 001 请核对", "320311 770706 001"),
        (
            f"身份证号 {ID_A[:6]} {ID_A[6:10]} {ID_A[10:14]} {ID_A[14:]}",
            f"{ID_A[:6]} {ID_A[6:10]} {ID_A[10:14]} {ID_A[14:]}",
        ),
        (
            f"证件号{ID_X[:3]} {ID_X[3:6]} {ID_X[6:10]} {ID_X[10:14]} {ID_X[14:]}。",
            f"{ID_X[:3]} {ID_X[3:6]} {ID_X[6:10]} {ID_X[10:14]} {ID_X[14:]}",
        ),
        (f"ID no. {ID_B[:6]}-{ID_B[6:14]}-{ID_B[14:]}", f"{ID_B[:6]}-{ID_B[6:14]}-{ID_B[14:]}"),
        (f"{ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}是我的", f"{ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}"),
    ],
)
def test_resident_id_found(detect, text: str, value: str) -> None:
    assert ("CN_RESIDENT_ID", value) in detect(text)


@pytest.mark.parametrize(
    "text",
    [
        f"身份证{wrong_check(ID_A)}",  # wrong check character
        f"身份证{make_id(birth='19990230')[:17]}{check_char(make_id(birth='19990230')[:17])}",  # 30 February
        f"身份证{make_id(birth='20991231')}",  # born in the future
        "订单号202403150012345678",  # 18-digit order number
        "流水号 3201011990010112345",  # 19 digits
        "320311770706001",  # legacy 15 digits without context
        "批次 320311771306001 身份",  # month 13
        f"{ID_A}5",  # longer digit run
        f"身份证 {wrong_check(ID_A)[:6]} {wrong_check(ID_A)[6:14]} {wrong_check(ID_A)[14:]}",  # grouped, bad check
        f"{ID_A[:4]} {ID_A[4:8]} {ID_A[8:12]} {ID_A[12:16]} {ID_A[16:]}",  # 4-4-4-4-2 is no ID layout
        "批次 320311 770706 001",  # grouped legacy digits without context
        "电话 0755 2345 6789 1990 0101",  # numbers side by side
    ],
)
def test_resident_id_look_alikes_survive(detect, text: str) -> None:
    assert not {t for t, _ in detect(text)} & {"CN_RESIDENT_ID"}


@pytest.mark.parametrize(
    "text, value",
    [
        ("护照号E12345678", "E12345678"),
        ("passport: G87654321.", "G87654321"),
        ("护照 EA1234567 已过期", "EA1234567"),
        ("Passport No. 123456789, expires 2030", "123456789"),
        ("passport number: C01234567", "C01234567"),
        ("护照号码：K1234567，谢谢", "K1234567"),
        ("my passport#AB1234567", "AB1234567"),
    ],
)
def test_passport_with_context(detect, text: str, value: str) -> None:
    assert ("PASSPORT", value) in detect(text)


@pytest.mark.parametrize(
    "text",
    [
        "型号E12345678",
        "serial G87654321",
        "订单E20240315",
        "型号 123456789",
        "passport office opens at 9, order 123456789",  # a number not right after the cue
        "护照办理费 200000 元",
        "passport photo 2x",
    ],
)
def test_passport_needs_context(detect, text: str) -> None:
    assert not any(t == "PASSPORT" for t, _ in detect(text))


@pytest.mark.parametrize(
    "text, value",
    [
        ("SSN 123-45-6789", "123-45-6789"),
        ("my social security number is 078051120", "078051120"),
        ("ssn: 212 67 1234", "212 67 1234"),
    ],
)
def test_us_ssn(detect, text: str, value: str) -> None:
    assert ("US_SSN", value) in detect(text)


@pytest.mark.parametrize(
    "text", ["SSN 000-12-3456", "ref 666-12-3456", "date 2024-03-15", "part 123456789", "Q-2024-0012"]
)
def test_us_ssn_look_alikes(detect, text: str) -> None:
    assert not any(t == "US_SSN" for t, _ in detect(text))
