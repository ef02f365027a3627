"""Language detection by script counting."""

from __future__ import annotations

import pytest

from services.ingestion.redaction import detect_language


@pytest.mark.parametrize(
    "text, expected",
    [
        ("您好，我想了解一下报价", "zh"),
        ("王先生您好，邮箱wang.planted@example.com，手机13987654321", "zh"),
        ("Hello, could you send me the quote?", "en"),
        ("Please call 13812345678", "en"),
        ("这个 proposal 我们 review 一下，下周给你 feedback", "mixed"),
        ("12345 !!!", "en"),
        ("", "en"),
        ("ＨＥＬＬＯ ｗｏｒｌｄ", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_result_reports_language(fast_redactor) -> None:
    assert fast_redactor.redact("您好").language == "zh"
    assert fast_redactor.redact("您好", language="en").language == "en"
