"""Shared base of our pattern recognizers, in presidio's style (``PATTERNS``, ``CONTEXT``, ``validate_result``).

Differences from presidio's :class:`~presidio_analyzer.PatternRecognizer` loop, all needed for Chinese text:

* a pattern may mark the PII with a named group ``pii``; only that group is reported (so a cue word such as
  ``微信`` can be part of the regex without being redacted);
* context is looked up in a *character* window around the match (Chinese has no spaces, so presidio's
  token/lemma window does not work); ``CONTEXT`` words add ``CONTEXT_BOOST``, ``NEGATIVE_CONTEXT`` words
  (order numbers, invoices...) drop a match unless a positive context word is also present;
* ``validate_result`` returning True sets ``VALID_SCORE``; False or ``invalidate_result`` True drops the match.

Regexes must not backtrack catastrophically: no nested unbounded quantifiers, every repetition bounded.
"""

from __future__ import annotations

from typing import ClassVar

import regex
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: Digit boundaries that work next to CJK text (``\b`` does not: Han characters are word characters).
NO_DIGIT_BEFORE = r"(?<![0-9])"
NO_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
NO_DIGIT_AFTER = r"(?![0-9])"
NO_ALNUM_AFTER = r"(?![0-9A-Za-z])"


class SalesPatternRecognizer(PatternRecognizer):
    """A regex recognizer for one entity type. Subclasses set the class attributes below."""

    ENTITY: ClassVar[str] = ""
    PATTERNS: ClassVar[list[Pattern]] = []
    CONTEXT: ClassVar[list[str]] = []
    NEGATIVE_CONTEXT: ClassVar[list[str]] = []
    CONTEXT_BOOST: ClassVar[float] = 0.4
    VALID_SCORE: ClassVar[float] = 1.0
    WINDOW_BEFORE: ClassVar[int] = 20
    WINDOW_AFTER: ClassVar[int] = 10
    FLAGS: ClassVar[int] = 0

    def __init__(self, supported_language: str = "en") -> None:
        patterns = [Pattern(p.name, p.regex, p.score) for p in self.PATTERNS]
        super().__init__(
            supported_entity=self.ENTITY,
            name=type(self).__name__,
            supported_language=supported_language,
            patterns=patterns,
            context=list(self.CONTEXT),
            global_regex_flags=self.FLAGS,
        )
        self._compiled = [(p, regex.compile(p.regex, self.FLAGS)) for p in patterns]
        self._context = [w.lower() for w in self.CONTEXT]
        self._negative = [w.lower() for w in self.NEGATIVE_CONTEXT]

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: object = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        """Run every pattern over ``text``; see the module docstring for the scoring rules."""
        if not self.quick_reject(text):
            return []
        results: list[RecognizerResult] = []
        for pattern, compiled in self._compiled:
            has_group = "pii" in compiled.groupindex
            for match in compiled.finditer(text):
                start, end = match.span("pii") if has_group else match.span()
                if end > start:
                    result = self._score(text, start, end, pattern.score)
                    if result is not None:
                        results.append(result)
        return EntityRecognizer.remove_duplicates(results)

    def quick_reject(self, text: str) -> bool:
        """Cheap pre-check; return False to skip the regexes (e.g. no digit in the text)."""
        return True

    def _score(self, text: str, start: int, end: int, score: float) -> RecognizerResult | None:
        value = text[start:end]
        valid = self.validate_result(value)
        if valid is False or self.invalidate_result(value):
            return None
        if valid:
            score = self.VALID_SCORE
        score = self._context_score(text, start, end, score)
        if score <= 0:
            return None
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        return RecognizerResult(self.ENTITY, start, end, score, recognition_metadata=metadata)

    def _context_score(self, text: str, start: int, end: int, score: float) -> float:
        if not self._context and not self._negative:
            return score
        before = text[max(0, start - self.WINDOW_BEFORE) : start].lower()
        after = text[end : end + self.WINDOW_AFTER].lower()
        if any(w in before or w in after for w in self._context):
            return min(1.0, score + self.CONTEXT_BOOST)
        if any(w in before for w in self._negative):
            return 0.0
        return score


_DIGIT = regex.compile(r"[0-9]")


def has_digit(text: str) -> bool:
    """True when ``text`` contains an ASCII digit (after normalisation every digit is ASCII)."""
    return _DIGIT.search(text) is not None
