"""Span offsets are code points; conversions to UTF-16 and UTF-8 round-trip on CJK, emoji and mixed text."""

from __future__ import annotations

import pytest

from annotation.spans import (
    Span,
    codepoint_to_utf8,
    codepoint_to_utf16,
    remap_spans,
    span_texts,
    utf8_to_codepoint,
    utf16_to_codepoint,
    validate_spans,
)
from services.common.errors import InvalidArgument

TEXTS = [
    "我想买企业版，预算五十万",
    "Great 😀 deal, 好的👍",
    "family 👨‍👩‍👧‍👦 flag 🇨🇳 skin 👍🏽 end",  # ZWJ sequence, regional indicators, skin-tone modifier
    "𠀋𡈽 rare CJK outside the BMP, 𝒳 math",  # surrogate pairs in UTF-16
    "plain ascii",
]


@pytest.mark.parametrize("text", TEXTS)
def test_every_offset_round_trips(text: str) -> None:
    for offset in range(len(text) + 1):
        assert utf16_to_codepoint(text, codepoint_to_utf16(text, offset)) == offset
        assert utf8_to_codepoint(text, codepoint_to_utf8(text, offset)) == offset
    assert codepoint_to_utf16(text, len(text)) == len(text.encode("utf-16-le")) // 2


def test_emoji_and_cjk_offsets_cover_the_right_characters() -> None:
    text = TEXTS[2]
    family = "👨‍👩‍👧‍👦"
    start = text.index(family)
    (span,) = validate_spans(text, [{"start": start, "end": start + len(family), "label": "x"}], ["x"])
    assert span_texts(text, [span]) == [family]
    assert len(family) == 7 and codepoint_to_utf16(text, span.end) - codepoint_to_utf16(text, span.start) == 11
    rare = TEXTS[3]
    assert span_texts(rare, [Span(0, 2, "x")]) == ["𠀋𡈽"] and codepoint_to_utf16(rare, 2) == 4


def test_offsets_inside_a_surrogate_pair_or_a_character_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="surrogate"):
        utf16_to_codepoint("😀a", 1)
    with pytest.raises(InvalidArgument, match="splits a character"):
        utf8_to_codepoint("我", 1)
    with pytest.raises(InvalidArgument, match="past the end"):
        utf16_to_codepoint("ab", 3)


@pytest.mark.parametrize(
    ("span", "needle"),
    [
        ({"start": 0, "end": 0, "label": "x"}, "start < end"),
        ({"start": -1, "end": 2, "label": "x"}, "start < end"),
        ({"start": 0, "end": 99, "label": "x"}, "code points"),
        ({"start": 0, "end": 1, "label": "nope"}, "not a label"),
        ({"start": "0", "end": 1, "label": "x"}, "integers"),
        ({"start": True, "end": 1, "label": "x"}, "integers"),
    ],
)
def test_bad_spans_name_the_problem(span: dict, needle: str) -> None:
    with pytest.raises(InvalidArgument, match=needle):
        validate_spans("我想买😀", [span], ["x"])


def test_duplicate_spans_are_refused_and_overlapping_ones_sorted() -> None:
    with pytest.raises(InvalidArgument, match="twice"):
        validate_spans("abcd", [{"start": 0, "end": 2, "label": "x"}] * 2, ["x"])
    spans = validate_spans("abcd", [{"start": 1, "end": 3, "label": "x"}, {"start": 0, "end": 2, "label": "x"}], ["x"])
    assert [(s.start, s.end) for s in spans] == [(0, 2), (1, 3)]


def test_remap_moves_spans_past_a_redacted_region_and_drops_those_on_it() -> None:
    original = "电话13812345678，想买企业版😀"
    redacted = "电话<PHONE_1>，想买企业版😀"
    product = original.index("企业版")
    spans = [Span(product, product + 3, "product"), Span(2, 13, "phone"), Span(len(original) - 1, len(original), "emo")]
    kept, dropped = remap_spans(original, redacted, spans)
    assert dropped == 1
    assert span_texts(redacted, kept) == ["企业版", "😀"]
    assert remap_spans("same", "same", [Span(0, 4, "x")]) == ([Span(0, 4, "x")], 0)
