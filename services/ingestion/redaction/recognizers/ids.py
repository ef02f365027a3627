"""Identity documents: Chinese resident ID (18 and legacy 15), passports, US SSN."""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern

from services.ingestion.redaction.checksums import cn_id_valid, valid_date
from services.ingestion.redaction.recognizers.base import (
    NO_ALNUM_AFTER,
    NO_ALNUM_BEFORE,
    NO_DIGIT_AFTER,
    NO_DIGIT_BEFORE,
    SalesPatternRecognizer,
    has_digit,
)

_MMDD = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_DATE8 = r"(?:18|19|20)\d{2}" + _MMDD
#: an optional group separator inside a number written in blocks
_SEP = r"[ \-]?"
_ID_CONTEXT = ["身份证", "证件", "身份号", "公民身份", "id card", "id no", "id number", "identity", "resident id"]


def _digits(value: str) -> str:
    return value.replace(" ", "").replace("-", "")


class CnResidentIdRecognizer(SalesPatternRecognizer):
    """18-character resident ID: region + birth date + sequence + MOD 11-2 check.

    Also written in groups with spaces or dashes, as forms print it: 6-8-4, 6-4-4-4 or 3-3-4-4-4.
    """

    ENTITY = "CN_RESIDENT_ID"
    PATTERNS = [
        Pattern("cn_id_18", NO_ALNUM_BEFORE + r"[1-9]\d{5}" + _DATE8 + r"\d{3}[0-9Xx]" + NO_ALNUM_AFTER, 0.5),
        Pattern(
            "cn_id_18_grouped",
            NO_ALNUM_BEFORE
            + rf"[1-9]\d{{2}}{_SEP}\d{{3}}{_SEP}(?:18|19|20)\d{{2}}{_SEP}{_MMDD}{_SEP}\d{{3}}[0-9Xx]"
            + NO_ALNUM_AFTER,
            0.5,
        ),
    ]
    CONTEXT = _ID_CONTEXT

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)

    def validate_result(self, pattern_text: str) -> bool:
        """Valid birth date and ISO 7064 MOD 11-2 check character."""
        return cn_id_valid(_digits(pattern_text))


class CnLegacyIdRecognizer(SalesPatternRecognizer):
    """15-digit first-generation ID (YYMMDD birth date, no check digit), also as 6-6-3 groups: only next to a
    context word."""

    ENTITY = "CN_RESIDENT_ID"
    PATTERNS = [
        Pattern(
            "cn_id_15",
            NO_ALNUM_BEFORE + rf"[1-9]\d{{5}}{_SEP}\d{{2}}{_MMDD}{_SEP}\d{{3}}" + NO_ALNUM_AFTER,
            0.2,
        )
    ]
    CONTEXT = _ID_CONTEXT
    CONTEXT_BOOST = 0.6

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)

    def validate_result(self, pattern_text: str) -> bool | None:
        """A real date in the 1900s; None keeps the (low) pattern score so context decides."""
        digits = _digits(pattern_text)
        year, month, day = 1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
        return None if valid_date(year, month, day) else False


class PassportRecognizer(SalesPatternRecognizer):
    """Passport numbers. Chinese ones (E/G + 8 digits, or E + letter + 7 digits) need a context word nearby;
    any other country's (up to 2 letters + 6-9 digits, e.g. a US 9-digit number) only right after the cue."""

    ENTITY = "PASSPORT"
    PATTERNS = [
        Pattern("cn_passport", NO_ALNUM_BEFORE + r"(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7})" + NO_ALNUM_AFTER, 0.3),
        Pattern(
            "passport_after_cue",
            r"(?<![A-Za-z])(?:passport|护照)[ ]{0,2}(?:number|no\.?|num|#|号码|号)?[ ]{0,2}[:：]?[ ]{0,2}"
            r"(?P<pii>[A-Z]{0,2}\d{6,9})" + NO_ALNUM_AFTER,
            0.85,
        ),
    ]
    CONTEXT = ["护照", "passport", "证件号", "travel document"]
    CONTEXT_BOOST = 0.55
    WINDOW_BEFORE = 24
    FLAGS = regex.IGNORECASE

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)


class SsnRecognizer(SalesPatternRecognizer):
    """US social security numbers, AAA-GG-SSSS (or with spaces); 9 bare digits only with context."""

    ENTITY = "US_SSN"
    _AREA = r"(?!000|666|9\d\d)\d{3}"
    PATTERNS = [
        Pattern(
            "ssn_dashed", NO_ALNUM_BEFORE + r"(?<!-)" + _AREA + r"-(?!00)\d{2}-(?!0000)\d{4}(?!-)" + NO_ALNUM_AFTER, 0.5
        ),
        Pattern("ssn_spaced", NO_ALNUM_BEFORE + _AREA + r" (?!00)\d{2} (?!0000)\d{4}" + NO_ALNUM_AFTER, 0.3),
        Pattern("ssn_bare", NO_DIGIT_BEFORE + _AREA + r"(?!00)\d{2}(?!0000)\d{4}" + NO_DIGIT_AFTER, 0.1),
    ]
    CONTEXT = ["ssn", "social security", "社会安全号", "社保号"]
    CONTEXT_BOOST = 0.5
    WINDOW_BEFORE = 32

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)
