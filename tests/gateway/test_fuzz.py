"""Property-based fuzzing of every REST route (hypothesis): arbitrary JSON bodies, arbitrary bytes, hostile path
parameters and query strings, with a valid admin key. The gateway must answer with a documented error shape and
never a 500, whatever arrives. The ingestion service is real; inference is not running here, so routes that need
it must answer 503 with Retry-After rather than fail."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..pii_leaks import record_figures
from .conftest import auth

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=200),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=6),
    max_leaves=20,
)
PATH_TEXT = st.text(min_size=1, max_size=80).filter(lambda s: s not in (".", ".."))
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _routes(client: TestClient, *, with_body: bool = False) -> list[tuple[str, str]]:
    """Every /v1 operation (or those that take a JSON body), from the OpenAPI document clients see."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    out = [
        (method.upper(), path)
        for path, ops in paths.items()
        if path.startswith("/v1")
        for method, op in ops.items()
        if not with_body or "requestBody" in op
    ]
    assert len(out) >= (6 if with_body else 15), out  # the fuzzing must really reach the API
    return out


#: status codes of every fuzzed request in this module, for the reliability report
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _record() -> Iterator[None]:
    yield
    record_figures("rest_fuzzing", requests=sum(STATUSES.values()), statuses=dict(sorted(STATUSES.items())))


def _check(reply) -> None:  # type: ignore[no-untyped-def]
    STATUSES[reply.status_code] += 1
    assert reply.status_code < 500 or reply.status_code == 503, (reply.status_code, reply.text[:300])
    if reply.status_code >= 400:
        body = reply.json()
        assert set(body["error"]) >= {"reason", "message"}, body
        if reply.status_code == 503:
            assert reply.headers["Retry-After"]


@FUZZ
@given(body=JSON, params=st.dictionaries(st.sampled_from(["task", "scope", "tenant"]), st.text(max_size=30)))
def test_any_json_body_on_any_route_is_handled(client: TestClient, tokens: dict[str, str], body, params) -> None:
    for method, path in _routes(client):
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        _check(client.request(method, concrete, json=body, params=params, headers=auth(tokens["admin"])))


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_are_a_clear_400_or_422(client: TestClient, tokens: dict[str, str], raw: bytes) -> None:
    headers = {**auth(tokens["admin"]), "Content-Type": "application/json"}
    for method, path in _routes(client, with_body=True):
        reply = client.request(method, re.sub(r"\{[^}]+\}", "x1", path), content=raw, headers=headers)
        _check(reply)
        try:
            json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            assert reply.status_code in (400, 403, 404, 413, 422), (path, reply.status_code)


@FUZZ
@given(value=PATH_TEXT)
def test_hostile_path_parameters_are_handled(client: TestClient, tokens: dict[str, str], value: str) -> None:
    for method, path in _routes(client):
        if "{" not in path:
            continue
        concrete = re.sub(r"\{[^}]+\}", quote(value, safe=""), path)
        _check(client.request(method, concrete, json={}, headers=auth(tokens["admin"])))


@pytest.mark.parametrize("text", ["\ud800", "a" * 70_000, "\x00\x01\x02", "<PHONE_1>" * 500, "😀" * 3000])
def test_pathological_texts_are_answered(client: TestClient, tokens: dict[str, str], text: str) -> None:
    body = json.dumps({"text": text}, ensure_ascii=True).encode()
    reply = client.post(
        "/v1/redact", content=body, headers={**auth(tokens["crm_backend"]), "Content-Type": "application/json"}
    )
    _check(reply)
