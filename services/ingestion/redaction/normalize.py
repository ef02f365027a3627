"""Text normalisation with an offset map back to the original text.

Recognizers run on NFKC-normalised text (full-width digits, letters, ``　`` and full-width punctuation become
ASCII), while every reported offset must point into the ORIGINAL text. :func:`normalize` returns both the
normalised text and, for each normalised code point, the index of the original code point it came from.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Dash-like characters NFKC leaves alone but people type inside numbers.
_EXTRA = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212\u30fc\uff70"})


@dataclass(frozen=True)
class Normalized:
    """Normalised ``text`` and ``origin[i]``: the original index of ``text[i]`` (plus one sentinel at the end)."""

    text: str
    origin: list[int]
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of the normalised text to the original text."""
        if end <= start:
            pos = self.origin[start] if start < len(self.origin) else self.original_length
            return pos, pos
        return self.origin[start], self.origin[end - 1] + 1


def normalize(text: str) -> Normalized:
    """NFKC-normalise ``text`` character by character, keeping an offset map to the original."""
    if text.isascii():
        return Normalized(text, list(range(len(text) + 1)), len(text))
    pieces: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        if char.isascii():
            pieces.append(char)
            origin.append(i)
            continue
        mapped = unicodedata.normalize("NFKC", char).translate(_EXTRA) or char
        pieces.append(mapped)
        origin.extend([i] * len(mapped))
    origin.append(len(text))
    return Normalized("".join(pieces), origin, len(text))
