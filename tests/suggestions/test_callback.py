"""Callbacks of the rep's buttons: accepted only with a valid, fresh signature; salesai and Slack schemes."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest

from services.common.errors import InvalidArgument, Unauthenticated
from services.suggestions.callback import parse_callback
from services.suggestions.signing import ExpiredSignature, InvalidSignature, signed_headers

SECRET = "cb-secret"


def generic(body: dict, *, secret: str = SECRET, at: float | None = None) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    return {"Content-Type": "application/json", **signed_headers(secret, raw, now=at)}, raw


def slack(payload: dict, *, secret: str = SECRET, at: float | None = None) -> tuple[dict[str, str], bytes]:
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time() if at is None else at))
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": sig}, raw


def test_a_signed_accept_is_parsed() -> None:
    headers, body = generic({"suggestion_id": "s1", "action": "accept", "actor": "rep-9"})
    action = parse_callback(headers, body, SECRET)
    assert (action.suggestion_id, action.action, action.decision, action.actor, action.scheme) == (
        "s1", "accept", "accepted", "rep-9", "salesai",
    )  # fmt: skip


def test_an_edit_carries_the_text() -> None:
    headers, body = generic({"suggestion_id": "s1", "action": "edit", "edited_text": "Hello <PERSON_1>"})
    action = parse_callback({k.lower(): v for k, v in headers.items()}, body, SECRET)
    assert action.decision == "edited" and action.edited_text == "Hello <PERSON_1>"


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (lambda h, b: (h, b.replace(b"accept", b"reject")), InvalidSignature),  # body changed after signing
        (lambda h, b: ({**h, "X-SalesAI-Signature": "v1=" + "0" * 64}, b), InvalidSignature),
        (lambda h, b: ({k: v for k, v in h.items() if k != "X-SalesAI-Timestamp"}, b), InvalidSignature),
        (lambda h, b: ({"Content-Type": "application/json"}, b), InvalidSignature),  # unsigned
    ],
)
def test_a_bad_signature_is_rejected(tamper, error) -> None:
    headers, body = tamper(*generic({"suggestion_id": "s1", "action": "accept"}))
    with pytest.raises(error) as err:
        parse_callback(headers, body, SECRET)
    assert isinstance(err.value, Unauthenticated) and err.value.http_status == 401


def test_the_wrong_secret_is_rejected() -> None:
    headers, body = generic({"suggestion_id": "s1", "action": "accept"}, secret="someone-else")
    with pytest.raises(InvalidSignature, match="bad signature"):
        parse_callback(headers, body, SECRET)


@pytest.mark.parametrize("age_s", [301, -301, 86400])
def test_an_expired_signature_is_rejected(age_s: int) -> None:
    headers, body = generic({"suggestion_id": "s1", "action": "accept"}, at=time.time() - age_s)
    with pytest.raises(ExpiredSignature, match="outside the accepted window"):
        parse_callback(headers, body, SECRET)


def test_a_signed_but_malformed_body_is_bad_input() -> None:
    headers, body = generic({"suggestion_id": "s1", "action": "approve"})
    with pytest.raises(InvalidArgument, match="accept, edit, reject"):
        parse_callback(headers, body, SECRET)
    headers, body = generic({"action": "accept"})
    with pytest.raises(InvalidArgument, match="names no suggestion"):
        parse_callback(headers, body, SECRET)


def test_no_secret_configured_rejects_everything() -> None:
    headers, body = generic({"suggestion_id": "s1", "action": "accept"}, secret="")
    with pytest.raises(InvalidSignature):
        parse_callback(headers, body, "")


def test_a_slack_block_action_is_parsed() -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U123"},
        "trigger_id": "t-1",
        "actions": [{"action_id": "salesai_reject", "value": "s1", "type": "button"}],
    }
    action = parse_callback(*slack(payload), SECRET)
    assert (action.suggestion_id, action.decision, action.actor, action.trigger_id, action.scheme) == (
        "s1", "rejected", "U123", "t-1", "slack",
    )  # fmt: skip


def test_a_slack_callback_with_a_bad_or_stale_signature_is_rejected() -> None:
    payload = {"actions": [{"action_id": "salesai_accept", "value": "s1"}]}
    headers, body = slack(payload, secret="wrong")
    with pytest.raises(InvalidSignature):
        parse_callback(headers, body, SECRET)
    headers, body = slack(payload, at=time.time() - 3600)
    with pytest.raises(ExpiredSignature):
        parse_callback(headers, body, SECRET)
