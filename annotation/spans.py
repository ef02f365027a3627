"""Span offsets: Unicode code points (Python ``str`` indices) everywhere we store or export them.

Browsers index strings in UTF-16 code units and some tools in UTF-8 bytes; an emoji outside the Basic
Multilingual Plane is one code point but two UTF-16 units and four bytes, so the helpers here convert at the
edge and everything inside stays in code points.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from services.common.errors import InvalidArgument


@dataclass(frozen=True, order=True)
class Span:
    """``text[start:end]`` carries ``label``; offsets in code points, ``end`` exclusive."""

    start: int
    end: int
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}


def validate_spans(text: str, spans: Iterable[dict[str, Any]], labels: Sequence[str]) -> list[Span]:
    """Parsed, sorted spans; each inside ``text``, non-empty, with a schema label, no exact duplicates."""
    out: list[Span] = []
    for n, raw in enumerate(spans):
        start, end, label = raw.get("start"), raw.get("end"), raw.get("label")
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
            raise InvalidArgument(f"spans[{n}]: start and end must be integers (code points)", field="spans")
        if not 0 <= start < end <= len(text):
            raise InvalidArgument(
                f"spans[{n}]: need 0 <= start < end <= {len(text)} (text length in code points), "
                f"got start={start}, end={end}",
                field="spans",
            )
        if not isinstance(label, str) or label not in labels:
            raise InvalidArgument(f"spans[{n}]: {label!r} is not a label of this project", field="spans")
        out.append(Span(start, end, label))
    if len(set(out)) != len(out):
        raise InvalidArgument("spans: the same span is listed twice", field="spans")
    return sorted(out)


def utf16_to_codepoint(text: str, offset: int) -> int:
    """The code-point index of UTF-16 offset ``offset`` (must not split a surrogate pair)."""
    units = 0
    for index, char in enumerate(text):
        if units == offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
        if units > offset:
            raise InvalidArgument(f"UTF-16 offset {offset} splits a surrogate pair", field="spans")
    if units == offset:
        return len(text)
    raise InvalidArgument(f"UTF-16 offset {offset} is past the end of the text", field="spans")


def codepoint_to_utf16(text: str, offset: int) -> int:
    """The UTF-16 code-unit offset of code point ``offset``."""
    if not 0 <= offset <= len(text):
        raise InvalidArgument(f"offset {offset} is outside the text (0..{len(text)})", field="spans")
    return offset + sum(1 for char in text[:offset] if ord(char) > 0xFFFF)


def codepoint_to_utf8(text: str, offset: int) -> int:
    """The UTF-8 byte offset of code point ``offset``."""
    if not 0 <= offset <= len(text):
        raise InvalidArgument(f"offset {offset} is outside the text (0..{len(text)})", field="spans")
    return len(text[:offset].encode("utf-8"))


def utf8_to_codepoint(text: str, offset: int) -> int:
    """The code-point index of UTF-8 byte offset ``offset`` (must fall on a character boundary)."""
    data = text.encode("utf-8")
    if not 0 <= offset <= len(data):
        raise InvalidArgument(f"byte offset {offset} is outside the text (0..{len(data)})", field="spans")
    try:
        return len(data[:offset].decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidArgument(f"byte offset {offset} splits a character", field="spans") from None


def span_texts(text: str, spans: Iterable[Span]) -> list[str]:
    """What each span covers (for exports and reviewers)."""
    return [text[s.start : s.end] for s in spans]


def remap_spans(original: str, changed: str, spans: Iterable[Span]) -> tuple[list[Span], int]:
    """Move spans from ``original`` onto ``changed`` (e.g. after redaction replaced some text).

    A span survives when both its ends fall in text that did not change; it is dropped when it touches a
    replaced region (it would point at a placeholder). Returns (kept spans, number dropped).
    """
    matcher = difflib.SequenceMatcher(a=original, b=changed, autojunk=False)
    blocks = [(i, j, n) for i, j, n in matcher.get_matching_blocks() if n]

    def move(offset: int, is_end: bool) -> int | None:
        for i, j, n in blocks:
            if i <= offset < i + n or (is_end and i < offset <= i + n):
                return j + (offset - i)
        return None

    kept, dropped = [], 0
    for span in spans:
        start, end = move(span.start, False), move(span.end, True)
        if start is None or end is None or original[span.start : span.end] != changed[start:end]:
            dropped += 1
        else:
            kept.append(Span(start, end, span.label))
    return kept, dropped
