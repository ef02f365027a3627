"""The Redactor end to end: mixed messages, overlaps, offsets, pseudonyms, operators, errors, time bounds."""

from __future__ import annotations

import json
import time

import pytest

from services.ingestion.redaction import Pseudonymizer, RedactionConfig, Redactor
from services.ingestion.redaction.checksums import cn_id_check_char, luhn_check_digit
from services.ingestion.redaction.engine import resolve_overlaps

ID = "44030519900307123"
ID += cn_id_check_char(ID)
CARD = "622588012345678901"
CARD += luhn_check_digit(CARD)
SECRET = b"s" * 32


def test_mixed_message_with_several_types(fast_redactor) -> None:
    text = f"王先生您好，我的手机13987654321，邮箱wang@example.com，身份证{ID}，卡号{CARD}。预算冻结了。"
    result = fast_redactor.redact(text)
    assert result.text == (
        "<PERSON_1>先生您好，我的手机<PHONE_1>，邮箱<EMAIL_1>，身份证<ID_CARD_1>，卡号<BANK_CARD_1>。预算冻结了。"
    )
    assert [e.type for e in result.entities] == [
        "PERSON",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "CN_RESIDENT_ID",
        "BANK_CARD",
    ]
    assert result.language == "zh"


def test_english_and_mixed_messages(redactor) -> None:
    text = "Hi, I'm Tom Baker. 手机+86 138 1234 5678, mail tom@acme.com, SSN 123-45-6789, IP 10.1.2.3."
    result = redactor.redact(text)
    types = {e.type for e in result.entities}
    assert {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN", "IP_ADDRESS"} <= types
    for secret in ("Tom Baker", "138 1234 5678", "tom@acme.com", "123-45-6789", "10.1.2.3"):
        assert secret not in result.text


def test_look_alikes_all_survive(redactor) -> None:
    text = (
        "订单号20240315001234，发票号INV-2024-00087，金额¥12,800.00（约5万），2024-03-15 / 2024年3月15日签约，"
        "版本v2.3.1，报价单Q-2024-0012，型号RTX-4090 和 iPhone 15，数量1,000台。"
    )
    result = redactor.redact(text)
    assert result.entities == []
    assert result.text == text


def test_offsets_point_into_original_text_with_fullwidth_and_emoji(fast_redactor) -> None:
    text = "😀👍🏽 手机：１３８　１２３４　５６７８ 😀 邮箱ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ 🎉"
    result = fast_redactor.redact(text)
    spans = [(e.type, text[e.start : e.end]) for e in result.entities]
    assert spans == [("PHONE_NUMBER", "１３８　１２３４　５６７８"), ("EMAIL_ADDRESS", "ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ")]
    assert result.text == "😀👍🏽 手机：<PHONE_1> 😀 邮箱<EMAIL_1> 🎉"


def test_overlaps_resolved_by_score_then_length(fast_redactor) -> None:
    # An e-mail whose local part is a phone number: one EMAIL entity, no PHONE inside it.
    result = fast_redactor.redact("邮箱13812345678@163.com")
    assert [(e.type, e.start, e.end) for e in result.entities] == [("EMAIL_ADDRESS", 2, 21)]


def test_same_value_same_placeholder_within_a_call(fast_redactor) -> None:
    result = fast_redactor.redact("手机13812345678，或者+86 138-1234-5678，另一个13987654321，再说一次13812345678")
    assert [e.placeholder for e in result.entities] == ["<PHONE_1>", "<PHONE_1>", "<PHONE_2>", "<PHONE_1>"]


def test_numbering_fresh_per_call_without_pseudonymizer(fast_redactor) -> None:
    assert fast_redactor.redact("手机13987654321").text == "手机<PHONE_1>"
    assert fast_redactor.redact("手机13812345678").text == "手机<PHONE_1>"


def test_pseudonymizer_consistent_across_messages_and_persisted(fast_redactor) -> None:
    pseudo = Pseudonymizer(SECRET)
    first = fast_redactor.redact("手机13812345678，邮箱Li@X.com", pseudonymizer=pseudo)
    state = json.loads(json.dumps(pseudo.to_state()))
    restored = Pseudonymizer.from_state(SECRET, state)
    second = fast_redactor.redact("新号码13987654321，旧的138 1234 5678，邮箱li@x.COM", pseudonymizer=restored)
    assert first.text == "手机<PHONE_1>，邮箱<EMAIL_1>"
    assert second.text == "新号码<PHONE_2>，旧的<PHONE_1>，邮箱<EMAIL_1>"


def test_pseudonymizer_state_holds_no_raw_values() -> None:
    pseudo = Pseudonymizer(SECRET)
    pseudo.placeholder("PHONE_NUMBER", "13812345678")
    pseudo.placeholder("EMAIL_ADDRESS", "zhang@x.com")
    dumped = json.dumps(pseudo.to_state())
    assert "13812345678" not in dumped and "zhang" not in dumped
    assert Pseudonymizer(b"other").key("PHONE_NUMBER", "13812345678") != pseudo.key("PHONE_NUMBER", "13812345678")


def test_pseudonymizer_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        Pseudonymizer(b"")
    with pytest.raises(ValueError):
        Pseudonymizer.from_state(SECRET, {"version": 99})


def test_operators_mask_and_hash() -> None:
    redactor = Redactor(RedactionConfig(use_spacy=False, operators={"PHONE_NUMBER": "mask", "EMAIL": "hash"}))
    pseudo = Pseudonymizer(SECRET)
    result = redactor.redact("手机13812345678，邮箱zhang@x.com，身份证" + ID, pseudonymizer=pseudo)
    phone, email, id_card = result.entities
    assert phone.placeholder == "*******5678"
    assert email.placeholder == "<EMAIL_" + pseudo.key("EMAIL_ADDRESS", "zhang@x.com")[:12] + ">"
    assert id_card.placeholder == "<ID_CARD_1>"
    assert result.text == f"手机*******5678，邮箱{email.placeholder}，身份证<ID_CARD_1>"
    again = redactor.redact("ZHANG@X.COM", pseudonymizer=Pseudonymizer(SECRET))
    assert again.entities[0].placeholder == email.placeholder


def test_entities_filter() -> None:
    redactor = Redactor(RedactionConfig(use_spacy=False, entities=["EMAIL_ADDRESS"]))
    assert redactor.redact("手机13812345678，邮箱zhang@x.com").text == "手机13812345678，邮箱<EMAIL_1>"


def test_unknown_entity_in_config_rejected() -> None:
    with pytest.raises(ValueError, match="unknown entity"):
        Redactor(RedactionConfig(use_spacy=False, entities=["SHOE_SIZE"]))


def test_recognizers_file_can_disable(tmp_path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("recognizers:\n  - {name: email, enabled: true}\n  - {name: cn_mobile, enabled: false}\n")
    redactor = Redactor(RedactionConfig(use_spacy=False, recognizers_file=path))
    assert redactor.redact("手机13812345678，邮箱zhang@x.com").text == "手机13812345678，邮箱<EMAIL_1>"
    path.write_text("recognizers:\n  - {name: nope}\n")
    with pytest.raises(ValueError, match="unknown recognizer"):
        Redactor(RedactionConfig(use_spacy=False, recognizers_file=path))


@pytest.mark.parametrize("language", ["fr", "", "ZH", "mixed"])
def test_bad_language_rejected_without_echoing_text(fast_redactor, language: str) -> None:
    with pytest.raises(ValueError, match="language must be one of auto, zh, en") as info:
        fast_redactor.redact("手机13812345678", language=language)
    assert "13812345678" not in str(info.value)


def test_redact_many_matches_redact(redactor) -> None:
    texts = [
        "手机13812345678",
        "Call John Smith at +1 415 555 0100",
        "",
        "这个 proposal 给 Mary Johnson 看看, 邮箱 mj@x.com",
    ]
    assert redactor.redact_many(texts) == [redactor.redact(t) for t in texts]


def test_empty_and_whitespace(fast_redactor) -> None:
    assert fast_redactor.redact("").text == ""
    assert fast_redactor.redact("   ").entities == []


PATHOLOGICAL = [
    "1" * 65536,
    "1 " * 32768,
    "1-" * 32768,
    "a" * 65535 + "@",
    "a@" * 32768,
    "a." * 32768,
    "张" * 21845,  # 64 KiB of UTF-8
    "路" * 21845,
    "上海市" * 7281,
    "A " * 32768,
    "1:" * 32768,
    "+8" * 32768,
    "微信" * 10922,
    ("王先生13812345678" * 2000)[:30000],
    ("440 305 1990 0307 " * 3641)[:65536],  # grouped-ID separators
    ("0755-2345-" * 6554)[:65536],  # landline groups
    "passport no. " * 5041,
    "阳光花园3栋2单元" * 2427,  # building parts without end
    "林总说" * 7281,  # one PERSON per 3 characters: tens of thousands of candidates to resolve
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=lambda t: repr(t[:8]))
def test_pathological_64k_input_is_fast(fast_redactor, text: str) -> None:
    start = time.perf_counter()
    fast_redactor.redact(text)
    assert time.perf_counter() - start < 3.0


def test_pathological_input_with_spacy_is_bounded(redactor) -> None:
    start = time.perf_counter()
    redactor.redact("Ab " * 21845)
    assert time.perf_counter() - start < 3.0


def test_recognizer_class_names_do_not_shadow_presidio_ones() -> None:
    """presidio resolves its YAML recognizer names over all EntityRecognizer subclasses: a same-named class of
    ours would break a stock AnalyzerEngine built in the same process."""
    from presidio_analyzer.recognizer_registry import RecognizerRegistryProvider

    provider = RecognizerRegistryProvider(registry_configuration={"supported_languages": ["en"]})
    assert provider.create_recognizer_registry().recognizers  # raises TypeError on a name clash


def test_resolve_overlaps_keeps_the_best_non_overlapping_spans() -> None:
    from presidio_analyzer import RecognizerResult

    found = [
        RecognizerResult("PHONE_NUMBER", 2, 13, 0.7),
        RecognizerResult("EMAIL_ADDRESS", 2, 21, 0.95),  # wins: higher score
        RecognizerResult("PERSON", 0, 2, 0.85),  # touches, does not overlap
        RecognizerResult("QQ_NUMBER", 30, 40, 0.85),
        RecognizerResult("BANK_CARD", 30, 40, 0.85),  # same score and length: type priority
        RecognizerResult("US_SSN", 38, 45, 0.5),  # overlaps the card's end
        RecognizerResult("IP_ADDRESS", 40, 45, 0.5),
    ]
    kept = [(r.entity_type, r.start, r.end) for r in resolve_overlaps(found)]
    assert kept == [("PERSON", 0, 2), ("EMAIL_ADDRESS", 2, 21), ("BANK_CARD", 30, 40), ("IP_ADDRESS", 40, 45)]


def test_resolve_overlaps_scales_to_tens_of_thousands_of_candidates() -> None:
    from presidio_analyzer import RecognizerResult

    found = [RecognizerResult("PERSON", i, i + 2, 0.5 + (i % 7) / 20) for i in range(0, 120_000, 2)]
    found += [RecognizerResult("PHONE_NUMBER", i, i + 3, 0.6) for i in range(1, 120_000, 6)]
    start = time.perf_counter()
    kept = resolve_overlaps(found)
    assert time.perf_counter() - start < 2.0
    assert all(a.end <= b.start for a, b in zip(kept, kept[1:], strict=False))
    assert len(kept) >= 40_000
