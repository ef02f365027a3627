"""The :class:`Redactor`: normalise → presidio AnalyzerEngine → resolve overlaps → pseudonymise."""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from pydantic import BaseModel, Field, field_validator

from services.ingestion.redaction.language import detect_language
from services.ingestion.redaction.nlp import DEFAULT_MODEL, LazySpacyNlpEngine
from services.ingestion.redaction.normalize import Normalized, normalize
from services.ingestion.redaction.pseudonym import SHORT_NAMES, Pseudonymizer, apply_operator
from services.ingestion.redaction.registry import build_registry, enabled_names, supported_entities

LANGUAGE_CHOICES = ("auto", "zh", "en")
Operator = Literal["replace", "mask", "hash"]
_SHORT_TO_ENTITY = {short: entity for entity, short in SHORT_NAMES.items()}
#: Tie-break when two overlapping entities score the same and have the same length (lower wins).
_PRIORITY = {
    name: i
    for i, name in enumerate(
        [
            "CN_RESIDENT_ID",
            "IBAN",
            "BANK_CARD",
            "EMAIL_ADDRESS",
            "PHONE_NUMBER",
            "US_SSN",
            "PASSPORT",
            "QQ_NUMBER",
            "WECHAT_ID",
            "IP_ADDRESS",
            "ADDRESS",
            "PERSON",
        ]
    )
}


class RedactionConfig(BaseModel):
    """Settings of the redaction engine (embedded in the ingestion service settings)."""

    use_spacy: bool = Field(True, description="Run spaCy English NER for names (slower start-up and per message).")
    spacy_model: str = Field(DEFAULT_MODEL, description="spaCy model package used when use_spacy is true.")
    entities: list[str] | None = Field(None, description="Entity types to redact (None: all).")
    operators: dict[str, Operator] = Field(
        default_factory=dict, description="Entity type (or short name) → replace | mask | hash; default replace."
    )
    score_threshold: float = Field(0.4, ge=0.0, le=1.0, description="Minimum detection confidence.")
    recognizers_file: Path | None = Field(None, description="YAML file choosing recognizers (default: shipped one).")

    @field_validator("operators")
    @classmethod
    def _full_entity_names(cls, value: dict[str, Operator]) -> dict[str, Operator]:
        return {_SHORT_TO_ENTITY.get(k, k): v for k, v in value.items()}


@dataclass(frozen=True)
class RedactedEntity:
    """One redacted span; offsets are code points into the ORIGINAL text."""

    type: str
    start: int
    end: int
    score: float
    placeholder: str


@dataclass(frozen=True)
class RedactionResult:
    """The redacted text, the (detected or given) language and what was replaced."""

    text: str
    language: str
    entities: list[RedactedEntity]


class _NoContextEnhancer(ContextAwareEnhancer):
    """Context is scored by our recognizers in a character window; presidio's token window is skipped."""

    def __init__(self) -> None:
        super().__init__(0, 0, 0, 0)

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):  # type: ignore[no-untyped-def]  # noqa: D102
        return raw_results


class Redactor:
    """Builds presidio's engines once (expensive: jieba, optionally spaCy) and redacts texts with them."""

    def __init__(self, config: RedactionConfig | None = None) -> None:
        self.config = config or RedactionConfig()
        names = enabled_names(self.config.recognizers_file)
        if not self.config.use_spacy:
            names = [n for n in names if n != "en_person_spacy"]
        known = supported_entities(names)
        self.entities = sorted(known if self.config.entities is None else set(self.config.entities))
        unknown = (set(self.entities) | set(self.config.operators)) - set(SHORT_NAMES)
        if unknown:
            raise ValueError(f"unknown entity types in redaction config: {sorted(unknown)}")
        self.nlp_engine = LazySpacyNlpEngine(self.config.spacy_model if self.config.use_spacy else None)
        self.analyzer = AnalyzerEngine(
            registry=build_registry(names),
            nlp_engine=self.nlp_engine,
            supported_languages=["zh", "en"],
            default_score_threshold=self.config.score_threshold,
            context_aware_enhancer=_NoContextEnhancer(),
        )
        self._secret = os.urandom(32)

    def redact(self, text: str, language: str = "auto", pseudonymizer: Pseudonymizer | None = None) -> RedactionResult:
        """Redact ``text``. ``language``: auto, zh or en. Without ``pseudonymizer`` numbering starts at 1."""
        norm, lang = self._prepare(text, language)
        artifacts = self.nlp_engine.process_text(norm.text, _presidio_language(lang))
        return self._finish(text, norm, lang, artifacts, pseudonymizer)

    def redact_many(self, texts: Iterable[str], language: str = "auto") -> list[RedactionResult]:
        """Redact many independent texts (spaCy runs batched); each gets fresh numbering."""
        prepared = [(text, *self._prepare(text, language)) for text in texts]
        results: list[RedactionResult | None] = [None] * len(prepared)
        for presidio_lang in ("zh", "en"):
            idx = [i for i, (_, _, lang) in enumerate(prepared) if _presidio_language(lang) == presidio_lang]
            batch = self.nlp_engine.process_batch([prepared[i][1].text for i in idx], presidio_lang)
            for i, (_, artifacts) in zip(idx, batch, strict=True):
                text, norm, lang = prepared[i]
                results[i] = self._finish(text, norm, lang, artifacts, None)
        return [r for r in results if r is not None]

    def _prepare(self, text: str, language: str) -> tuple[Normalized, str]:
        if language not in LANGUAGE_CHOICES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGE_CHOICES)}; got {str(language)[:20]!r}")
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        norm = normalize(text)
        return norm, detect_language(norm.text) if language == "auto" else language

    def _finish(
        self, text: str, norm: Normalized, lang: str, artifacts: object, pseudonymizer: Pseudonymizer | None
    ) -> RedactionResult:
        found = self.analyzer.analyze(
            norm.text,
            language=_presidio_language(lang),
            entities=self.entities,
            score_threshold=self.config.score_threshold,
            nlp_artifacts=artifacts,  # type: ignore[arg-type]
        )
        chosen = resolve_overlaps(found)
        pseudonymizer = pseudonymizer or Pseudonymizer(self._secret)
        pieces: list[str] = []
        entities: list[RedactedEntity] = []
        cursor = 0
        for r in chosen:
            start, end = norm.span(r.start, r.end)
            operator = self.config.operators.get(r.entity_type, "replace")
            value = norm.text[r.start : r.end] if operator != "mask" else text[start:end]
            replacement = apply_operator(operator, r.entity_type, value, pseudonymizer)
            pieces += [text[cursor:start], replacement]
            cursor = end
            entities.append(RedactedEntity(r.entity_type, start, end, round(float(r.score), 4), replacement))
        pieces.append(text[cursor:])
        return RedactionResult("".join(pieces), lang, entities)


def resolve_overlaps(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Keep non-overlapping results: highest score first, then longest, then type priority; sorted by start.

    The kept spans never overlap, so one binary search over their starts finds any clash (n log n: a 64 KiB
    text can yield tens of thousands of candidates).
    """
    ranked = sorted(results, key=lambda r: (-r.score, -(r.end - r.start), _PRIORITY.get(r.entity_type, 99), r.start))
    starts: list[int] = []
    kept: list[RecognizerResult] = []
    for r in ranked:
        i = bisect.bisect_right(starts, r.start)
        if (i and kept[i - 1].end > r.start) or (i < len(kept) and kept[i].start < r.end):
            continue
        starts.insert(i, r.start)
        kept.insert(i, r)
    return kept


def _presidio_language(language: str) -> str:
    return "zh" if language == "zh" else "en"
