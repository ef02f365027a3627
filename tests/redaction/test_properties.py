"""Property-based tests of the redaction engine and the batch CLI (hypothesis).

* Planted PII — generated checksum-valid resident IDs, Luhn-valid UnionPay cards, mobile numbers and e-mail
  addresses — is removed wherever it lands: glued to Chinese characters, next to emoji, inside English, and
  the entity offsets point at it in the original text.
* Arbitrary text (any Unicode, lone surrogates excepted by Python's own str) never crashes the engine, stays
  within a time bound, and the output is the input with some spans replaced by placeholders.
* Arbitrary bytes fed to ``salesai redact`` never crash it: every line is either redacted or reported by number,
  and no reported error quotes the input.
"""

from __future__ import annotations

import io
import json
import random
import re
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingestion import cli
from services.ingestion.redaction.checksums import cn_id_check_char, luhn_check_digit

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
EMOJI = st.sampled_from(["😀", "👍🏽", "👨‍👩‍👧", "🇨🇳", "❤️"])
FILLER = st.lists(st.one_of(CJK, EMOJI, st.sampled_from(list("，。！？ ,.!?abcXYZ"))), max_size=12).map("".join)


@st.composite
def resident_id(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["110101", "310104", "440305", "510107", "330106"]))
    year = draw(st.integers(1940, 2005))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    serial = draw(st.integers(0, 999))
    first17 = f"{region}{year:04d}{month:02d}{day:02d}{serial:03d}"
    return first17 + cn_id_check_char(first17)


@st.composite
def unionpay_card(draw: st.DrawFn) -> str:
    length = draw(st.sampled_from([16, 19]))
    body = "62" + "".join(str(draw(st.integers(0, 9))) for _ in range(length - 3))
    return body + luhn_check_digit(body)


@st.composite
def mobile(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["13", "15", "17", "18", "19"])) + "".join(
        str(draw(st.integers(0, 9))) for _ in range(9)
    )


EMAIL = st.from_regex(r"[a-z]{2,8}\.[a-z]{2,6}@(qq|163|corp-mail|acme)\.(com|cn)", fullmatch=True)
PII = st.one_of(resident_id(), unionpay_card(), mobile(), EMAIL)


@PROPERTY
@given(before=FILLER, value=PII, after=FILLER, cue=st.sampled_from(["", "手机", "卡号", "身份证", "邮箱", "tel: "]))
def test_planted_pii_is_removed_wherever_it_lands(fast_redactor, before: str, value: str, after: str, cue: str):
    # Glued to Latin letters or digits a value is a different token (an order number "SO1101...", a longer
    # address "xaa.b@..."), which the recognizers deliberately leave alone; glued to CJK, emoji or punctuation
    # it is still the value.
    prefix = before + cue
    if prefix[-1:].isascii() and prefix[-1:].isalnum():
        prefix += " "
    if after[:1].isascii() and after[:1].isalnum():
        after = " " + after
    text = prefix + value + after
    result = fast_redactor.redact(text)
    assert value not in result.text
    assert any(text[e.start : e.end].replace(" ", "") == value for e in result.entities), (text, result.entities)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_any_text_is_redacted_quickly_into_text_plus_placeholders(fast_redactor, text: str) -> None:
    started = time.perf_counter()
    result = fast_redactor.redact(text)
    assert time.perf_counter() - started < 2.0
    # every character of the output is either a placeholder or comes from the (normalised) input
    leftover = PLACEHOLDER.sub("", result.text)
    assert len(leftover) <= len(text) + 8
    for entity in result.entities:
        assert 0 <= entity.start < entity.end <= len(text)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.binary(max_size=60), st.just(b""), PII.map(lambda v: v.encode())), max_size=12))
def test_the_batch_cli_survives_any_bytes(fast_redactor, lines: list[bytes]) -> None:
    rng = random.Random(len(lines))
    planted = [json.dumps({"text": f"客户{v.decode()}"}, ensure_ascii=False).encode() for v in lines if v.isdigit()]
    source_lines = [line.replace(b"\n", b" ") for line in lines] + planted
    rng.shuffle(source_lines)
    out, err = io.StringIO(), io.StringIO()
    failed = cli.run_batch(fast_redactor, io.BytesIO(b"\n".join(source_lines) + b"\n"), out, err)
    redacted = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    non_blank = [line for line in source_lines if line.strip()]
    assert len(redacted) + failed == len(non_blank)
    for record in redacted:
        assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", record["redacted"])
    errors = err.getvalue()
    for line in source_lines:
        if len(line) >= 11 and line.isdigit():
            assert line.decode() not in errors  # an error names the line, never its content
