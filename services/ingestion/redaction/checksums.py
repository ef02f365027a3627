"""Check-digit helpers shared by recognizers, tests and the benchmark corpus."""

from __future__ import annotations

from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit to append to ``partial`` so that the result passes Luhn."""
    for d in "0123456789":
        if luhn_valid(partial + d):
            return d
    raise AssertionError("unreachable")


def cn_id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a Chinese resident ID (``0``-``9`` or ``X``)."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def valid_date(year: int, month: int, day: int, *, earliest: int = 1900) -> bool:
    """True for a real calendar date between ``earliest`` and today."""
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return date(earliest, 1, 1) <= born <= date.today()


def cn_id_valid(value: str) -> bool:
    """18-character resident ID: region digit not 0, real birth date, correct check character."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit() or value[0] == "0":
        return False
    if not valid_date(int(value[6:10]), int(value[10:12]), int(value[12:14])):
        return False
    return cn_id_check_char(value[:17]) == value[17]
