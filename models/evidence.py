"""Evidence: which words of a message drove a prediction, as character spans with weights.

Attribution is gradient × input taken at the boundary between the shared and the task's own layers (the
input the task's adapter sees), summed over the hidden dimension per token, then aggregated to words:
a CJK piece or punctuation is its own word, a Latin word joins its sentencepiece continuations, and a
redaction placeholder such as ``<PHONE_1>`` is one word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    weight: float


def _is_word_char(text: str) -> bool:
    return any(ch.isalnum() for ch in text) and not _CJK.search(text)


def word_spans(
    text: str, offsets: list[tuple[int, int]], tokens: list[str], scores: list[float]
) -> list[tuple[int, int, float]]:
    """Group token scores into word spans ``(start, end, score)``; special and empty tokens are dropped."""
    placeholders = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)]
    words: list[list[float]] = []  # [start, end, score]
    for (start, end), token, score in zip(offsets, tokens, scores, strict=False):
        if end <= start:
            continue
        piece = text[start:end]
        if not piece.strip():
            continue
        inside = next(((a, b) for a, b in placeholders if a <= start < b), None)
        if inside is not None:
            if words and words[-1][0] == inside[0]:
                words[-1][2] += score
            else:
                words.append([inside[0], inside[1], score])
            continue
        continues = (
            bool(words)
            and not token.startswith("\u2581")
            and words[-1][1] == start
            and _is_word_char(piece)
            and _is_word_char(text[int(words[-1][0]) : int(words[-1][1])])
        )
        if continues:
            words[-1][1] = end
            words[-1][2] += score
        else:
            words.append([start, end, score])
    return [(int(a), int(b), float(s)) for a, b, s in words]


def _is_punctuation(piece: str) -> bool:
    return all(unicodedata.category(ch).startswith(("P", "S", "Z")) for ch in piece)


def top_spans(text: str, words: list[tuple[int, int, float]], k: int = 3) -> list[Span]:
    """The ``k`` words that pushed the prediction most, weights normalised to the strongest (0..1]."""
    candidates = [(a, b, s) for a, b, s in words if s > 0 and not _is_punctuation(text[a:b])]
    candidates.sort(key=lambda w: w[2], reverse=True)
    chosen = candidates[:k]
    if not chosen:
        return []
    strongest = chosen[0][2]
    return [Span(a, b, text[a:b], round(s / strongest, 4)) for a, b, s in sorted(chosen)]
