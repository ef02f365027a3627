"""PII redaction for Chinese and English sales conversations, built on presidio.

>>> redactor = Redactor(RedactionConfig(use_spacy=False))
>>> redactor.redact("王先生的手机13812345678").text
'<PERSON_1>先生的手机<PHONE_1>'

Pipeline: NFKC-normalise (keeping an offset map to the original) → detect the language by script → presidio
``AnalyzerEngine`` with our recognizers (``recognizers/``, chosen by ``recognizers.yaml``) → resolve overlaps
(highest score, then longest) → replace each span (``replace``: ``<PHONE_1>``, ``mask``, ``hash``).

How to add a recognizer:

1. Write a class in ``recognizers/`` on :class:`~.recognizers.base.SalesPatternRecognizer` (regex:
   ``ENTITY``, ``PATTERNS``, ``CONTEXT``, ``validate_result``) or presidio's ``EntityRecognizer``. Use digit
   boundaries ``(?<![0-9])``, not ``\\b``, and bound every repetition.
2. Register it under a name in ``registry.RECOGNIZERS``; a new entity type also needs a short placeholder
   name in ``pseudonym.SHORT_NAMES``.
3. Enable it in ``recognizers.yaml``.
4. Add a table-driven test file ``tests/redaction/test_<family>.py`` with positives and look-alike negatives.
"""

from services.ingestion.redaction.engine import RedactedEntity, RedactionConfig, RedactionResult, Redactor
from services.ingestion.redaction.language import detect_language
from services.ingestion.redaction.pseudonym import Pseudonymizer

__all__ = [
    "Pseudonymizer",
    "RedactedEntity",
    "RedactionConfig",
    "RedactionResult",
    "Redactor",
    "detect_language",
]
