"""Contact data: phone numbers (CN mobile, CN landline, international), e-mail, WeChat, QQ, IP addresses."""

from __future__ import annotations

import ipaddress

import regex
from presidio_analyzer import Pattern

from services.ingestion.redaction.recognizers.base import (
    NO_ALNUM_AFTER,
    NO_ALNUM_BEFORE,
    NO_DIGIT_AFTER,
    SalesPatternRecognizer,
    has_digit,
)

_PHONE_CONTEXT = [
    "手机",
    "电话",
    "致电",
    "联系",
    "号码",
    "座机",
    "来电",
    "打给",
    "phone",
    "mobile",
    "cell",
    "tel",
    "call",
    "whatsapp",
    "contact",
    "reach me",
    "fax",
    "传真",
]
_NOT_PHONE = ["订单", "单号", "运单", "发票", "金额", "order", "invoice", "tracking", "ref", "编号"]


class CnMobileRecognizer(SalesPatternRecognizer):
    """Chinese mobile numbers 1[3-9]x-xxxx-xxxx, optionally +86 / 0086 / 86, spaces or dashes."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        Pattern(
            "cn_mobile",
            r"(?<![0-9A-Za-z_+\-/.])(?:(?:\+|00)?86[ \-]?|\(\+?86\)[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}" + NO_DIGIT_AFTER,
            0.7,
        ),
    ]
    CONTEXT = _PHONE_CONTEXT
    NEGATIVE_CONTEXT = _NOT_PHONE
    CONTEXT_BOOST = 0.25

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)


class CnLandlineRecognizer(SalesPatternRecognizer):
    """Landlines with an area code: 010-12345678, (021)87654321, 0755 1234567, 021 6123 4567, ext. 转123."""

    ENTITY = "PHONE_NUMBER"
    _EXT = r"(?:(?:转|ext\.?|x) ?\d{1,5})?"
    _SUBSCRIBER = r"(?:[2-9]\d{6,7}|[2-9]\d{2,3}[ \-]\d{4})"
    PATTERNS = [
        Pattern(
            "cn_landline_sep",
            NO_ALNUM_BEFORE + r"(?:\+86[ \-]?)?(?:0\d{2,3}[ \-]|\(0\d{2,3}\) ?)" + _SUBSCRIBER + _EXT + NO_DIGIT_AFTER,
            0.6,
        ),
        Pattern("cn_landline_plain", NO_ALNUM_BEFORE + r"0(?:10|2\d|[3-9]\d{2})[2-9]\d{6,7}" + NO_DIGIT_AFTER, 0.3),
    ]
    CONTEXT = _PHONE_CONTEXT
    NEGATIVE_CONTEXT = _NOT_PHONE
    FLAGS = regex.IGNORECASE

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)


class IntlPhoneRecognizer(SalesPatternRecognizer):
    """International numbers: ``+CC ...`` (E.164-ish, 8-15 digits) and North-American ``(415) 555-0100``."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        Pattern("e164", r"(?<![0-9A-Za-z+])\+[1-9][0-9 \-().]{6,20}[0-9]" + NO_DIGIT_AFTER, 0.5),
        Pattern("nanp", NO_ALNUM_BEFORE + r"(?:\(\d{3}\) ?|\d{3}[\-. ])\d{3}[\-. ]\d{4}" + NO_ALNUM_AFTER, 0.35),
    ]
    CONTEXT = _PHONE_CONTEXT
    NEGATIVE_CONTEXT = _NOT_PHONE
    WINDOW_BEFORE = 32

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return has_digit(text)

    def validate_result(self, pattern_text: str) -> bool | None:
        """8-15 digits, balanced parentheses; None keeps the pattern score (context decides)."""
        digits = sum(c.isdigit() for c in pattern_text)
        if not 8 <= digits <= 15 or pattern_text.count("(") != pattern_text.count(")"):
            return False
        return None


class CjkEmailRecognizer(SalesPatternRecognizer):
    """E-mail addresses; the local part is ASCII only, so ``邮箱zhang@x.com`` yields ``zhang@x.com``.

    No tldextract (it would download the public-suffix list): the TLD must be 2-24 letters and not a
    file extension (``icon@2x.png``).
    """

    ENTITY = "EMAIL_ADDRESS"
    PATTERNS = [
        Pattern(
            "email",
            r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}"
            r"(?![A-Za-z0-9\-])",
            0.95,
        )
    ]
    _FILE_EXT = frozenset(
        [
            "png",
            "jpg",
            "jpeg",
            "gif",
            "svg",
            "webp",
            "pdf",
            "doc",
            "docx",
            "xls",
            "xlsx",
            "ppt",
            "pptx",
            "zip",
            "txt",
            "csv",
            "mp4",
            "mov",
        ]
    )

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return "@" in text

    def invalidate_result(self, pattern_text: str) -> bool:
        """Reject file names such as ``logo@2x.png`` and dotted local parts like ``a..b@x.com``."""
        local, _, domain = pattern_text.rpartition("@")
        tld = domain.rsplit(".", 1)[-1].lower()
        return tld in self._FILE_EXT or ".." in local or local.endswith(".")


_CUE_SEP = r"[ ]{0,2}(?:号码|号|id)?[ ]{0,2}(?:[:：是为]|is)?[ ]{0,2}"


class WechatRecognizer(SalesPatternRecognizer):
    """WeChat IDs after a cue word (微信/微信号/vx/wx/WeChat); only the ID is reported."""

    ENTITY = "WECHAT_ID"
    PATTERNS = [
        Pattern(
            "wechat_cue",
            r"(?<![A-Za-z])(?:微信|威信|薇信|v信|vx|wx|weixin|wechat)" + _CUE_SEP + r"(?:也是|同)?[ ]{0,2}"
            r"(?P<pii>[A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])",
            0.85,
        )
    ]
    FLAGS = regex.IGNORECASE

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        lowered = text.lower()
        return any(cue in lowered for cue in ("信", "vx", "wx", "weixin", "wechat"))


class QqRecognizer(SalesPatternRecognizer):
    """QQ numbers (5-12 digits) after a cue word (QQ/扣扣); only the number is reported."""

    ENTITY = "QQ_NUMBER"
    PATTERNS = [
        Pattern(
            "qq_cue",
            r"(?<![A-Za-z])(?:qq|扣扣|企鹅)" + _CUE_SEP + r"(?P<pii>[1-9]\d{4,11})" + NO_DIGIT_AFTER + r"(?!@)",
            0.85,
        )
    ]
    FLAGS = regex.IGNORECASE

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        lowered = text.lower()
        return "qq" in lowered or "扣扣" in text or "企鹅" in text


class IpAddressRecognizer(SalesPatternRecognizer):
    """IPv4 and IPv6 addresses, validated with :mod:`ipaddress`; versions like v2.3.1 are not matched."""

    ENTITY = "IP_ADDRESS"
    _OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    PATTERNS = [
        Pattern("ipv4", r"(?<![0-9A-Za-z.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?![0-9A-Za-z]|\.\d)", 0.6),
        Pattern("ipv6", r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Za-z:])", 0.6),
    ]
    CONTEXT = ["ip", "服务器", "server", "host", "地址"]
    NEGATIVE_CONTEXT = ["version", "版本"]
    CONTEXT_BOOST = 0.3

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return "." in text or ":" in text

    def validate_result(self, pattern_text: str) -> bool | None:
        """A parseable address; IPv6 needs at least three non-empty groups (so 10:30:00 is not one)."""
        try:
            ipaddress.ip_address(pattern_text)
        except ValueError:
            return False
        if ":" in pattern_text and sum(1 for group in pattern_text.split(":") if group) < 3:
            return False
        return None
