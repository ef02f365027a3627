"""Street addresses in Chinese (省/市/区/县 + 路/街 + 号/栋/单元/室) and English (number + name + St/Ave/Rd...)."""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern

from services.ingestion.redaction.recognizers.base import HAN, SalesPatternRecognizer

# A place-name character: Han, but not an address suffix or a common function word, so that the split
# between a name and its suffix is unique (no backtracking blow-up) and 我住在/寄到 stay outside the match.
_NAME = f"[{HAN}--[省市区县镇乡村路街道巷弄号栋幢室楼层单元座我你他她的在住是到于和与及寄送址给从往请]]"
_ADMIN = rf"(?:{_NAME}{{2,7}}(?:省|自治区|市|区|县|镇|乡|村|街道))"
_ROAD = rf"(?:{_NAME}{{1,8}}(?:大道|路|街|巷|胡同|弄|道))"
_NUMBER = r"(?:[0-9]{1,5}(?:-[0-9]{1,4})?(?:号|弄))"
_BNAME = _NAME.replace("--", "A-Za-z--", 1)
_BUILDING = rf"(?:{_BNAME}{{0,8}}(?:[0-9A-Za-z]{{1,4}}(?:号楼|栋|幢|座|单元|楼|层|室)))"
_ESTATE = rf"(?:{_NAME}{{2,8}}(?:小区|花园|大厦|公寓|广场|中心|苑|园))"
#: building parts, then maybe a bare room number (3号楼301, 5栋1203) that is not a year, amount or count
_UNITS = rf"(?:{_BUILDING}{{1,4}}(?:[0-9]{{3,5}}(?![0-9年月日元万块个台件号]))?)"


class ChineseAddressRecognizer(SalesPatternRecognizer):
    """Chinese addresses: admin units followed by a road and number, or a road/estate with building parts."""

    ENTITY = "ADDRESS"
    PATTERNS = [
        Pattern("zh_admin_road", rf"{_ADMIN}{{1,4}}{_ROAD}{_NUMBER}?{_UNITS}?", 0.85),
        Pattern("zh_road_number", rf"{_ROAD}{_NUMBER}{_UNITS}?", 0.75),
        Pattern("zh_estate_building", rf"{_ADMIN}{{0,3}}{_ESTATE}{_UNITS}", 0.7),
    ]
    CONTEXT = ["地址", "住址", "住在", "寄到", "送到", "收货", "位于"]
    CONTEXT_BOOST = 0.1
    FLAGS = regex.VERSION1

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return any(c in text for c in "路街道巷弄号栋室苑园厦")


_STREET = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Parkway|Pkwy|"
    r"Highway|Hwy|Terrace|Circle|Square|Sq)"
)


_DIGIT_THEN_CAPITAL = regex.compile(r"[0-9][A-Za-z]? [A-Z]")


class EnglishAddressRecognizer(SalesPatternRecognizer):
    """``1600 Amphitheatre Parkway``, ``221B Baker Street, Apt 4``: number, capitalised name, street type."""

    ENTITY = "ADDRESS"
    PATTERNS = [
        Pattern(
            "en_street",
            r"(?<![0-9A-Za-z])[0-9]{1,6}[A-Za-z]? (?:[A-Z][a-z]{1,20}\.? ){1,4}" + _STREET + r"\.?(?![A-Za-z])"
            r"(?:,? (?:Suite|Ste|Apt|Unit|Floor|Fl|#) ?[0-9A-Za-z]{1,6})?"
            r"(?:, [A-Z][a-z]{2,20}(?: [A-Z][a-z]{2,20}){0,2}(?:, [A-Z]{2}(?: [0-9]{5}(?:-[0-9]{4})?)?)?)?",
            0.75,
        )
    ]
    CONTEXT = ["address", "located", "office", "ship to", "deliver"]
    CONTEXT_BOOST = 0.1

    def quick_reject(self, text: str) -> bool:  # noqa: D102
        return _DIGIT_THEN_CAPITAL.search(text) is not None
