"""The page's offset conversions (annotation/web/js/offsets.js), run in the real browser, against Python's own
code-point indexing: every index of texts with CJK, astral characters, emoji, ZWJ sequences, flags and
combining marks."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)", allow_module_level=True)

TEXTS = [
    "",
    "plain ascii",
    "预算是五万元",
    "😀",
    "a😀b",
    "👩‍👩‍👧 family",
    "🇨🇳 flag and 👍🏽 tone",
    "e\u0301 combining",
    "𠮷野家 astral CJK",
    "混合 mixed 😀 文本，全角 ＡＢＣ and <PHONE_1>",
]

CONVERT = """
async text => {
  const m = await import('/workbench/js/offsets.js');
  const cps = [...Array(m.cpLength(text) + 1).keys()];
  const units = [...Array(text.length + 1).keys()];
  return {
    length: m.cpLength(text),
    toUtf16: cps.map(i => m.toUtf16(text, i)),
    floor: units.map(u => m.toCodePoints(text, u, 'floor')),
    ceil: units.map(u => m.toCodePoints(text, u, 'ceil')),
    slices: cps.map(i => m.cpSlice(text, i, m.cpLength(text))),
  };
}
"""


def utf16(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


def test_offsets_match_python_code_points(gateway, open_workbench) -> None:
    page = open_workbench("offsets").page
    page.goto(f"{gateway.url}/workbench/")  # the module is imported from the gateway, as the app imports it
    for text in TEXTS:
        got = page.evaluate(CONVERT, text)
        starts = [utf16(text, i) for i in range(len(text) + 1)]
        units = range(starts[-1] + 1)
        assert got["length"] == len(text), text
        assert got["toUtf16"] == starts, text
        # a UTF-16 index inside a surrogate pair snaps to the character's start (floor) or end (ceil)
        assert got["floor"] == [max(i for i, s in enumerate(starts) if s <= u) for u in units], text
        assert got["ceil"] == [min(i for i, s in enumerate(starts) if s >= u) for u in units], text
        assert got["slices"] == [text[i:] for i in range(len(text) + 1)], text
