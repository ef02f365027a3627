"""Redactor fixtures. Construction loads jieba (and spaCy): built once per configuration, module-scoped."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from services.ingestion.redaction import RedactionConfig, Redactor  # noqa: E402


@functools.cache
def _build(use_spacy: bool) -> Redactor:
    return Redactor(RedactionConfig(use_spacy=use_spacy))


@pytest.fixture(scope="module")
def fast_redactor() -> Redactor:
    """No spaCy: every regex/jieba recognizer."""
    return _build(False)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    """The default configuration, spaCy English NER included."""
    return _build(True)


Found = set[tuple[str, str]]


@pytest.fixture(scope="module")
def detect(fast_redactor: Redactor) -> Callable[[str], Found]:
    """``detect(text)`` → {(entity type, original substring)} using the spaCy-free redactor."""

    def run(text: str) -> Found:
        return {(e.type, text[e.start : e.end]) for e in fast_redactor.redact(text).entities}

    return run
