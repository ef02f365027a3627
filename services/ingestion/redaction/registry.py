"""The explicit recognizer registry and the YAML file that decides which recognizers load."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from presidio_analyzer import EntityRecognizer, RecognizerRegistry

from services.ingestion.redaction.recognizers.address import ChineseAddressRecognizer, EnglishAddressRecognizer
from services.ingestion.redaction.recognizers.contact import (
    CjkEmailRecognizer,
    CnLandlineRecognizer,
    CnMobileRecognizer,
    IntlPhoneRecognizer,
    IpAddressRecognizer,
    QqRecognizer,
    WechatRecognizer,
)
from services.ingestion.redaction.recognizers.finance import BankCardRecognizer, ChecksumIbanRecognizer
from services.ingestion.redaction.recognizers.ids import (
    CnLegacyIdRecognizer,
    CnResidentIdRecognizer,
    PassportRecognizer,
    SsnRecognizer,
)
from services.ingestion.redaction.recognizers.persons import (
    ChinesePersonRecognizer,
    EnglishTitledNameRecognizer,
    SpacyPersonRecognizer,
)

#: Every recognizer we ship, by the name used in recognizers.yaml.
RECOGNIZERS: dict[str, type[EntityRecognizer]] = {
    "cn_resident_id": CnResidentIdRecognizer,
    "cn_legacy_id": CnLegacyIdRecognizer,
    "bank_card": BankCardRecognizer,
    "iban": ChecksumIbanRecognizer,
    "cn_mobile": CnMobileRecognizer,
    "cn_landline": CnLandlineRecognizer,
    "intl_phone": IntlPhoneRecognizer,
    "email": CjkEmailRecognizer,
    "wechat": WechatRecognizer,
    "qq": QqRecognizer,
    "passport": PassportRecognizer,
    "us_ssn": SsnRecognizer,
    "ip_address": IpAddressRecognizer,
    "zh_person": ChinesePersonRecognizer,
    "en_person_title": EnglishTitledNameRecognizer,
    "en_person_spacy": SpacyPersonRecognizer,
    "zh_address": ChineseAddressRecognizer,
    "en_address": EnglishAddressRecognizer,
}

#: Presidio languages every recognizer is registered for ("mixed" text is analysed as "en").
LANGUAGES = ("zh", "en")


def enabled_names(path: Path | None = None) -> list[str]:
    """Recognizer names enabled in ``path`` (default: the ``recognizers.yaml`` shipped with this package)."""
    if path is None:
        raw = resources.files(__package__).joinpath("recognizers.yaml").read_text(encoding="utf-8")
    else:
        raw = Path(path).read_text(encoding="utf-8")
    entries = (yaml.safe_load(raw) or {}).get("recognizers") or []
    names = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if name not in RECOGNIZERS:
            raise ValueError(f"recognizers file names an unknown recognizer: {name!r}; known: {sorted(RECOGNIZERS)}")
        if entry.get("enabled", True):
            names.append(name)
    return names


def build_registry(names: list[str]) -> RecognizerRegistry:
    """A presidio registry holding one instance of each named recognizer per language."""
    registry = RecognizerRegistry(supported_languages=list(LANGUAGES))
    for language in LANGUAGES:
        for name in names:
            registry.add_recognizer(RECOGNIZERS[name](supported_language=language))  # type: ignore[call-arg]
    return registry


def supported_entities(names: list[str]) -> set[str]:
    """Entity types the named recognizers can report."""
    entities: set[str] = set()
    for name in names:
        cls = RECOGNIZERS[name]
        entities.add(cls.ENTITY)  # type: ignore[attr-defined]
    return entities
