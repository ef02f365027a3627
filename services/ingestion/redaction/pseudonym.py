"""Consistent pseudonyms within a conversation, and the replace / mask / hash operators.

The mapping is keyed by HMAC-SHA256(secret, entity type + normalised value), so a :class:`Pseudonymizer`'s
state (``to_state()``) never contains raw values and can be persisted per conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Any

from presidio_anonymizer.operators import Mask

#: Short placeholder name per entity type: ``<PHONE_1>``, ``<PERSON_2>``...
SHORT_NAMES: dict[str, str] = {
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "CN_RESIDENT_ID": "ID_CARD",
    "BANK_CARD": "BANK_CARD",
    "PERSON": "PERSON",
    "ADDRESS": "ADDRESS",
    "WECHAT_ID": "WECHAT",
    "QQ_NUMBER": "QQ",
    "PASSPORT": "PASSPORT",
    "IBAN": "IBAN",
    "US_SSN": "SSN",
    "IP_ADDRESS": "IP",
}
OPERATORS = ("replace", "mask", "hash")
_NUMERIC = {"PHONE_NUMBER", "BANK_CARD", "QQ_NUMBER", "US_SSN"}
_ALNUM_UPPER = {"CN_RESIDENT_ID", "PASSPORT", "IBAN"}
_NON_DIGIT = re.compile(r"[^0-9]")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_SPACES = re.compile(r"\s+")
STATE_VERSION = 1


def normalize_value(entity_type: str, value: str) -> str:
    """The form two mentions are compared in: digits for numbers, case-folded text otherwise."""
    value = unicodedata.normalize("NFKC", value)
    if entity_type in _NUMERIC:
        digits = _NON_DIGIT.sub("", value)
        if entity_type == "PHONE_NUMBER":
            digits = re.sub(r"^(?:00)?86(?=1[3-9][0-9]{9}$)", "", digits)
        return digits
    if entity_type in _ALNUM_UPPER:
        return _NON_ALNUM.sub("", value).upper()
    return _SPACES.sub(" ", value).strip().casefold()


class Pseudonymizer:
    """Numbers values per entity type in order of first appearance; same value → same placeholder."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray) or not secret:
            raise ValueError("Pseudonymizer needs a non-empty bytes secret")
        self._secret = bytes(secret)
        self._placeholders: dict[str, str] = {}
        self._counters: dict[str, int] = {}

    def key(self, entity_type: str, value: str) -> str:
        """HMAC-SHA256 hex digest of the entity type and the normalised value."""
        message = f"{entity_type}\x00{normalize_value(entity_type, value)}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def placeholder(self, entity_type: str, value: str) -> str:
        """``<SHORT_n>`` for this value, allocating the next number the first time it is seen."""
        key = self.key(entity_type, value)
        found = self._placeholders.get(key)
        if found is None:
            short = SHORT_NAMES.get(entity_type, entity_type)
            self._counters[short] = self._counters.get(short, 0) + 1
            found = f"<{short}_{self._counters[short]}>"
            self._placeholders[key] = found
        return found

    def hashed(self, entity_type: str, value: str, length: int = 12) -> str:
        """``<SHORT_hexprefix>``: a stable keyed hash of the value (no numbering state)."""
        return f"<{SHORT_NAMES.get(entity_type, entity_type)}_{self.key(entity_type, value)[:length]}>"

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable state: counters and HMAC keys → placeholders (no raw values)."""
        return {"version": STATE_VERSION, "counters": dict(self._counters), "placeholders": dict(self._placeholders)}

    @classmethod
    def from_state(cls, secret: bytes, state: dict[str, Any] | None) -> Pseudonymizer:
        """Rebuild from :meth:`to_state` output; an empty/None state gives a fresh one."""
        pseudonymizer = cls(secret)
        if not state:
            return pseudonymizer
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported pseudonymizer state version: {state.get('version')!r}")
        pseudonymizer._counters = {str(k): int(v) for k, v in (state.get("counters") or {}).items()}
        pseudonymizer._placeholders = {str(k): str(v) for k, v in (state.get("placeholders") or {}).items()}
        return pseudonymizer

    def __repr__(self) -> str:
        return f"Pseudonymizer({len(self._placeholders)} values)"


_MASK = Mask()


def mask(value: str, keep: int = 4) -> str:
    """Mask all but the last ``keep`` characters with ``*`` (presidio's Mask operator)."""
    hidden = max(len(value) - keep, 0) if len(value) > keep else len(value)
    return _MASK.operate(value, {"masking_char": "*", "chars_to_mask": hidden, "from_end": False})


def apply_operator(operator: str, entity_type: str, value: str, pseudonymizer: Pseudonymizer) -> str:
    """The replacement text for one entity."""
    if operator == "replace":
        return pseudonymizer.placeholder(entity_type, value)
    if operator == "mask":
        return mask(value)
    if operator == "hash":
        return pseudonymizer.hashed(entity_type, value)
    raise ValueError(f"unknown operator {operator!r}; expected one of {OPERATORS}")
