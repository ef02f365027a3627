"""REST API behaviour: status codes for bad input, auth, missing records and a down backend; reveal,
export and erasure through the gateway."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.auth import KeyStore
from gateway.config import GatewaySettings
from gateway.main import create_app
from services.common.roles import Role
from services.common.storage import Database
from services.common.storage.models import AuditEvent, ConversationPseudonyms, Interaction, RawText

from .conftest import auth

PHONE = "13912345678"


def _ingest(client: TestClient, token: str, external_id: str = "m-1", customer: str = "c-1", text: str = "") -> dict:
    body = {
        "external_id": external_id,
        "customer_id": customer,
        "conversation_id": f"conv-{customer}",
        "text": text or f"我的手机是{PHONE}，下周给我报价",
        "channel": "wechat",
    }
    reply = client.post("/v1/interactions", json=body, headers=auth(token))
    assert reply.status_code == 201, reply.text
    return reply.json()["interaction"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"text": "hi"}, 422, "external_id: Field required"),
        ({"external_id": "x", "text": 5}, 422, "text: Input should be a valid string"),
        ({"external_id": "x", "text": "hi", "language": "fr"}, 422, "language: Input should be 'auto', 'zh' or 'en'"),
        ({"external_id": "x", "text": "hi", "surprise": 1}, 422, "surprise: Extra inputs are not permitted"),
        ({"external_id": "x", "text": "长" * 1000}, 413, "text is 3000 bytes; the limit is 2000 bytes"),
    ],
    ids=["missing-field", "wrong-type", "bad-enum", "unknown-field", "text-too-large"],
)
def test_bad_input_says_what_to_fix(
    client: TestClient, tokens: dict[str, str], body: dict, status: int, fragment: str
) -> None:
    reply = client.post("/v1/interactions", json=body, headers=auth(tokens["crm_backend"]))
    assert reply.status_code == status, reply.text
    assert fragment in reply.json()["error"]["message"]


def test_oversized_body_is_413(client: TestClient, tokens: dict[str, str]) -> None:
    reply = client.post("/v1/redact", json={"text": "x" * 10_000}, headers=auth(tokens["crm_backend"]))
    assert reply.status_code == 413
    assert reply.json()["error"]["reason"] == "payload_too_large"


@pytest.mark.parametrize("payload", [b"\xff\xfe{not json", b'{"external_id": "x", "text": "\xff"}', b"[1,2"])
def test_malformed_json_or_invalid_utf8_is_400(client: TestClient, tokens: dict[str, str], payload: bytes) -> None:
    reply = client.post(
        "/v1/interactions", content=payload, headers={**auth(tokens["crm_backend"]), "Content-Type": "application/json"}
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == {
        "reason": "malformed_body",
        "message": "the request body is not valid UTF-8 JSON",
        "field": None,
        **({"problems": reply.json()["error"]["problems"]} if "problems" in reply.json()["error"] else {}),
    }


def test_wrong_shape_is_422_naming_the_field(client: TestClient, tokens: dict[str, str]) -> None:
    reply = client.post("/v1/interactions", json={"external_id": 5, "text": ["x"]}, headers=auth(tokens["crm_backend"]))
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["reason"] == "invalid_argument"
    assert "text" in {p["field"] for p in error["problems"]}


def test_unknown_interaction_is_404_and_unknown_route_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    reply = client.get("/v1/interactions/does-not-exist", headers=auth(tokens["crm_backend"]))
    assert reply.status_code == 404
    assert reply.json()["error"]["message"] == "interaction 'does-not-exist' not found"
    assert client.get("/v1/nothing-here").status_code == 404


def test_backend_down_is_503_with_retry_after(gateway_settings: GatewaySettings, tokens: dict[str, str]) -> None:
    down = gateway_settings.model_copy(update={"ingestion_url": "127.0.0.1:1", "deadline_seconds": 1})
    with TestClient(create_app(down)) as client:
        reply = client.post("/v1/redact", json={"text": "hi"}, headers=auth(tokens["crm_backend"]))
        assert reply.status_code == 503
        assert reply.headers["Retry-After"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["services"]["ingestion"] == "UNREACHABLE"


def test_redact_is_stateless(client: TestClient, tokens: dict[str, str], migrated_url: str) -> None:
    reply = client.post("/v1/redact", json={"text": f"call me on {PHONE}"}, headers=auth(tokens["labeller"]))
    assert reply.status_code == 200
    assert PHONE not in reply.json()["redacted_text"]
    db = Database(migrated_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 0
    db.dispose()


def test_reveal_needs_admin_and_is_audited(client: TestClient, tokens: dict[str, str], migrated_url: str) -> None:
    created = _ingest(client, tokens["crm_backend"])
    url = f"/v1/interactions/{created['id']}/reveal"
    denied = client.post(url, json={"reason": "customer dispute #42"}, headers=auth(tokens["crm_backend"]))
    assert denied.status_code == 403
    assert client.post(url, json={"reason": ""}, headers=auth(tokens["admin"])).status_code == 422
    cross_tenant = client.post(url, json={"reason": "curious"}, headers=auth(tokens["globex_admin"]))
    assert cross_tenant.status_code == 404
    allowed = client.post(url, json={"reason": "customer dispute #42"}, headers=auth(tokens["admin"]))
    assert allowed.status_code == 200
    assert PHONE in allowed.json()["text"]
    db = Database(migrated_url)
    with db.session() as s:
        outcomes = sorted(s.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "reveal_raw")))
        audit = s.get(AuditEvent, allowed.json()["audit_id"])
        assert audit is not None and audit.reason == "customer dispute #42" and audit.role == "admin"
    db.dispose()
    assert outcomes == ["allowed", "denied"]


def test_export_and_erase_a_customer(client: TestClient, tokens: dict[str, str], migrated_url: str) -> None:
    crm = tokens["crm_backend"]
    first = _ingest(client, crm, "m-1", "c-9")
    second = _ingest(client, crm, "m-2", "c-9", text=f"还是这个号码{PHONE}，另外预算冻结了")
    _ingest(client, crm, "m-3", "c-other")
    assert first["redacted_text"].count("<PHONE_1>") == 1 and "<PHONE_1>" in second["redacted_text"]
    exported = client.get("/v1/customers/c-9/export", headers=auth(crm)).json()
    assert [i["external_id"] for i in exported["interactions"]] == ["m-1", "m-2"]
    assert client.get("/v1/customers/c-9/export", headers=auth(tokens["globex_crm"])).json()["interactions"] == []
    erased = client.delete("/v1/customers/c-9", headers=auth(crm))
    # no leads or training service runs here: the database rows still go, and the reply says the vectors and the
    # training files are pending
    assert erased.json() == {
        "customer_id": "c-9",
        "interactions_erased": 2,
        "derived_erased": {},
        "pending": ["similar_index", "training_files"],
    }
    assert client.get("/v1/customers/c-9/export", headers=auth(crm)).json()["interactions"] == []
    db = Database(migrated_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 1
        assert s.scalar(select(func.count()).select_from(RawText)) == 1
        left = s.scalars(select(ConversationPseudonyms.customer_id)).all()
        assert left == ["c-other"]
    db.dispose()


def test_each_key_is_rate_limited_with_retry_after(gateway_settings: GatewaySettings) -> None:
    settings = gateway_settings.model_copy(update={"rate_limit": "3/minute"})
    with TestClient(create_app(settings), raise_server_exceptions=False) as limited:
        keys: KeyStore = limited.app.state.keys  # type: ignore[attr-defined]
        first = keys.create("acme", Role.CRM_BACKEND).token
        second = keys.create("acme", Role.CRM_BACKEND).token
        replies = [limited.post("/v1/redact", json={"text": "hi"}, headers=auth(first)) for _ in range(4)]
        assert [r.status_code for r in replies] == [200, 200, 200, 429]
        assert replies[-1].json()["error"]["reason"] == "resource_exhausted"
        assert 1 <= int(replies[-1].headers["Retry-After"]) <= 60
        assert limited.post("/v1/redact", json={"text": "hi"}, headers=auth(second)).status_code == 200  # per key


def test_gateway_sockets_disable_nagle_on_keep_alive_connections() -> None:
    """Accepted sockets inherit the listener's proto; asyncio sets TCP_NODELAY only for IPPROTO_TCP ones."""
    import asyncio
    import socket

    from gateway.__main__ import bind_socket

    listener = bind_socket("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _, writer = await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
        value = await asyncio.wait_for(seen, 5)
        writer.close()
        server.close()
        return value

    assert asyncio.run(accepted_nodelay()) == 1


def test_a_new_tenants_first_messages_arriving_together_are_all_stored(
    client: TestClient, tokens: dict[str, str], migrated_url: str
) -> None:
    """They race to create the tenant's first data key; the losers store again instead of failing."""
    from concurrent.futures import ThreadPoolExecutor

    token = client.app.state.keys.create("newco", Role.CRM_BACKEND).token  # type: ignore[attr-defined]

    def send(n: int) -> int:
        body = {"external_id": f"first-{n}", "text": f"消息{n}", "conversation_id": "c1"}
        return client.post("/v1/interactions", json=body, headers=auth(token)).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(send, range(16)))
    assert codes == [201] * 16
    db = Database(migrated_url)
    with db.session() as session:
        assert session.scalar(select(func.count()).where(Interaction.tenant_id == "newco")) == 16
    db.dispose()


def test_a_nul_character_in_an_id_is_bad_input_not_a_500(client: TestClient, tokens: dict[str, str]) -> None:
    """PostgreSQL cannot store or compare text with NUL: its DataError is the caller's bad input (422)."""
    for path in ("/v1/interactions/a%00b", "/v1/customers/a%00b/export"):
        reply = client.get(path, headers=auth(tokens["crm_backend"]))
        assert reply.status_code in (200, 404, 422), (path, reply.status_code, reply.text)
        assert "\x00" not in reply.text
