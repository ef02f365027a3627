"""Payment data: bank cards (UnionPay, Visa, Mastercard, Amex...) and IBANs."""

from __future__ import annotations

from presidio_analyzer import Pattern
from stdnum import iban

from services.ingestion.redaction.checksums import luhn_valid
from services.ingestion.redaction.recognizers.base import (
    NO_ALNUM_AFTER,
    NO_ALNUM_BEFORE,
    SalesPatternRecognizer,
    has_digit,
)

#: Issuer prefixes and the card lengths they use.
_ISSUERS: tuple[tuple[tuple[str, ...], range], ...] = (
    (("62", "81"), range(16, 20)),  # UnionPay
    (("4",), range(16, 20)),  # Visa
    (("51", "52", "53", "54", "55", "22", "23", "24", "25", "26", "27"), range(16, 17)),  # Mastercard
    (("34", "37"), range(15, 16)),  # Amex
    (("6011", "64", "65"), range(16, 20)),  # Discover
    (("35",), range(16, 20)),  # JCB
    (("30", "36", "38", "39"), range(14, 20)),  # Diners
)


def plausible_card(digits: str) -> bool:
    """Known issuer prefix for this length, and a Luhn-valid number."""
    issuer = any(digits.startswith(prefixes) and len(digits) in lengths for prefixes, lengths in _ISSUERS)
    return issuer and luhn_valid(digits)


class BankCardRecognizer(SalesPatternRecognizer):
    """15-19 digit card numbers, plain or grouped with spaces/dashes; Luhn and issuer-prefix checked."""

    ENTITY = "BANK_CARD"
    PATTERNS = [
        Pattern("card_plain", NO_ALNUM_BEFORE + r"\d{14,19}" + NO_ALNUM_AFTER, 0.3),
        Pattern("card_grouped", NO_ALNUM_BEFORE + r"\d{4,6}(?:[ \-]\d{3,6}){2,4}" + NO_ALNUM_AFTER, 0.3),
    ]
    CONTEXT = ["卡号", "银行卡", "信用卡", "借记卡", "储蓄卡", "card", "visa", "mastercard", "银联", "账号", "帐号"]
    NEGATIVE_CONTEXT = ["订单", "单号", "运单", "快递", "发票", "order", "invoice", "tracking", "合同号"]

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)

    def validate_result(self, pattern_text: str) -> bool:
        """Issuer prefix, length and Luhn check on the digits."""
        return plausible_card(pattern_text.replace(" ", "").replace("-", ""))

    def _context_score(self, text: str, start: int, end: int, score: float) -> float:
        # A validated card is never dropped by negative context unless it is merely Luhn-valid by chance
        # inside an order/invoice number: keep presidio's behaviour (context only adds) for grouped cards.
        grouped = " " in text[start:end] or "-" in text[start:end]
        if grouped:
            return score
        return super()._context_score(text, start, end, score)


class ChecksumIbanRecognizer(SalesPatternRecognizer):
    """International bank account numbers, with or without 4-character groups; MOD 97 checked."""

    ENTITY = "IBAN"
    PATTERNS = [
        Pattern("iban_plain", NO_ALNUM_BEFORE + r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}" + NO_ALNUM_AFTER, 0.3),
        Pattern(
            "iban_grouped",
            NO_ALNUM_BEFORE + r"[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?" + NO_ALNUM_AFTER,
            0.3,
        ),
    ]
    CONTEXT = ["iban", "account", "账户", "账号"]

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)

    def validate_result(self, pattern_text: str) -> bool:
        """Country format and MOD 97 check (python-stdnum)."""
        return bool(iban.is_valid(pattern_text))
