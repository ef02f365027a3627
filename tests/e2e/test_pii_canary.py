"""The PII canary, on SQLite and PostgreSQL: unique PII values planted in messages ingested through the gateway
(in-process app, real ingestion gRPC server) must appear nowhere outside the encrypted raw zone — not in the
database (every table, every column), not in any log line, not in the metrics output, not in exports. Reveal
returns the original only to the admin role and leaves an audit row; erasing the customer removes their raw,
master and derived records (workbench items, predictions, pseudonym state) so that no trace of the text is left.
No leads or training service runs here, so the reply reports the similar index and the training files as pending;
``tests/leads/test_erasure.py`` covers vectors, suggestions, snapshots, leads and training files with every service
running.
"""

from __future__ import annotations

import json
import logging
import random
import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import func, select
from stdnum import iban

from gateway.auth import KeyStore
from gateway.config import GatewaySettings
from gateway.main import create_app
from services.common.logging import JsonFormatter
from services.common.roles import Role
from services.common.server import GrpcServer
from services.common.storage import Database
from services.common.storage.models import (
    AnnotationItem,
    AuditEvent,
    Base,
    ConversationPseudonyms,
    Interaction,
    InteractionPrediction,
    RawText,
)
from services.ingestion.config import IngestionSettings
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.redaction.checksums import cn_id_check_char, luhn_check_digit
from services.ingestion.server import create_server

CUSTOMER = "c-canary"
_SEPARATORS = re.compile(r"[\s\-]")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def plant(seed: int) -> dict[str, str]:
    """Checksum-valid values never seen before this run (the seed is random)."""
    rng = random.Random(seed)
    token = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(8))
    first17 = f"110101{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{_digits(rng, 3)}"
    card = "62" + _digits(rng, 16)
    bban = "37040044" + _digits(rng, 10)
    return {
        "phone": "1" + rng.choice("3456789") + _digits(rng, 9),
        "id": first17 + cn_id_check_char(first17),
        "card": card + luhn_check_digit(card),
        "email": f"canary.{token}@corp-mail.cn",
        "wechat": f"wx_{token}{_digits(rng, 3)}",
        "qq": str(rng.randint(100_000_000, 999_999_999)),
        "passport": "E" + _digits(rng, 8),
        "iban": f"DE{iban.calc_check_digits('DE00' + bban)}{bban}",
        "ssn": f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "ip": f"10.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}",
        "en_name": "Thaddeus " + token.capitalize(),
        "zh_name": "司马晓燕",
        "address": f"上海市浦东新区张江路{rng.randint(100, 999)}号5栋2单元501室",
    }


def messages(v: dict[str, str], marker: str) -> list[str]:
    spaced_phone = f"+86 {v['phone'][:3]} {v['phone'][3:7]} {v['phone'][7:]}"
    dashed_card = "-".join(v["card"][i : i + 4] for i in range(0, 19, 4))
    return [
        f"王先生您好，我是{v['zh_name']}经理，手机{v['phone']}，邮箱{v['email']}，身份证{v['id']}，"
        f"卡号{v['card']}。地址：{v['address']}。预算冻结了 {marker}",
        f"Hi, this is Mr. {v['en_name']}. Call {spaced_phone} or mail {v['email']}. Card {dashed_card}, "
        f"SSN {v['ssn']}, passport {v['passport']}, IBAN {v['iban']}. The server IP is {v['ip']}. {marker}",
        f"加我微信 {v['wechat']}，QQ：{v['qq']}，护照号{v['passport']}，有事打{v['phone']} {marker}",
    ]


def leaks(values: dict[str, str], haystack: str) -> list[str]:
    """The planted values found in ``haystack``, as written or without spaces and dashes (``+86 138 ...``)."""
    compact = _SEPARATORS.sub("", haystack)
    return [name for name, value in values.items() if value in haystack or _SEPARATORS.sub("", value) in compact]


def database_dump(url: str) -> tuple[str, bytes]:
    """Every row of every table as text, and every binary column's bytes (the raw zone's ciphertext)."""
    db = Database(url)
    text, binary = [], []
    try:
        with db.session() as s:
            for table in Base.metadata.sorted_tables:
                for row in s.execute(table.select()):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            binary.append(bytes(value))
                        else:
                            text.append(json.dumps(value, ensure_ascii=False, default=str))
    finally:
        db.dispose()
    return "\n".join(text), b"\n".join(binary)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(use_spacy=False))


@pytest.fixture
def client(migrated_url: str, secrets_env: dict[str, str], redactor: Redactor) -> Iterator[TestClient]:
    ingestion: GrpcServer
    ingestion, _ = create_server(IngestionSettings(port=0, database_url=migrated_url), redactor=redactor)
    ingestion.start()
    settings = GatewaySettings(
        database_url=migrated_url,
        ingestion_url=f"127.0.0.1:{ingestion.port}",
        inference_url="127.0.0.1:1",  # not running: workbench pre-annotation degrades
        leads_url="127.0.0.1:1",  # not running: erasure reports the similar index as pending (tests/leads covers it)
        training_url="127.0.0.1:1",  # nor this: the training files are pending too
        deadline_seconds=10,
        key_cache_seconds=0,
        rate_limit="",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
    ingestion.stop(0)


@pytest.fixture
def tokens(client: TestClient) -> dict[str, str]:
    keys: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
    return {role.value: keys.create("acme", role).token for role in Role}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_planted_pii_appears_nowhere_and_erasure_removes_every_trace(
    client: TestClient, tokens: dict[str, str], migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    planted = plant(uuid.uuid4().int)
    marker = f"canary{uuid.uuid4().hex[:12]}"
    crm, admin = _auth(tokens["crm_backend"]), _auth(tokens["admin"])
    texts = messages(planted, marker)

    stored = []
    for i, text in enumerate(texts):
        body = {"external_id": f"cn-{i}", "customer_id": CUSTOMER, "conversation_id": "conv-canary", "text": text}
        reply = client.post("/v1/interactions", json=body, headers=crm)
        assert reply.status_code == 201, reply.text
        stored.append(reply.json()["interaction"])
        assert leaks(planted, reply.text) == []
    other = client.post(
        "/v1/interactions", json={"external_id": "o-1", "customer_id": "c-other", "text": "明天见"}, headers=crm
    )
    assert other.status_code == 201
    found = {e["type"] for i in stored for e in i["entities"]}
    assert found >= {
        "PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "CN_RESIDENT_ID", "BANK_CARD", "ADDRESS", "US_SSN",
        "PASSPORT", "IBAN", "IP_ADDRESS", "WECHAT_ID", "QQ_NUMBER",
    }  # fmt: skip
    assert "<PHONE_1>" in stored[0]["redacted_text"] and "<PHONE_1>" in stored[2]["redacted_text"]  # one pseudonym
    stateless = client.post("/v1/redact", json={"text": texts[1]}, headers=crm)
    assert stateless.status_code == 200 and leaks(planted, stateless.text) == []

    # derived records: workbench items loaded from the customer's messages, a stored prediction
    project = client.post(
        "/v1/workbench/projects",
        json={"name": "canary", "kind": "single", "labels": [{"name": "a"}, {"name": "b"}]},
        headers=_auth(tokens["project_admin"]),
    )
    assert project.status_code == 201, project.text
    loaded = client.post(
        f"/v1/workbench/projects/{project.json()['id']}/items",
        json={"interaction_ids": [i["id"] for i in stored]},
        headers=_auth(tokens["project_admin"]),
    )
    assert loaded.status_code == 200, loaded.text
    db = Database(migrated_url)
    with db.session() as s:
        s.add(
            InteractionPrediction(
                tenant_id="acme", interaction_id=stored[0]["id"], task="intent", label="x", confidence=0.9
            )
        )
    db.dispose()

    exported = client.get(f"/v1/customers/{CUSTOMER}/export", headers=crm)
    assert [i["external_id"] for i in exported.json()["interactions"]] == ["cn-0", "cn-1", "cn-2"]
    assert marker in exported.text and leaks(planted, exported.text) == []

    # reveal: the original for the admin only, every attempt audited
    url = f"/v1/interactions/{stored[0]['id']}/reveal"
    for role in Role:
        if role is not Role.ADMIN:
            denied = client.post(url, json={"reason": "audit check"}, headers=_auth(tokens[role.value]))
            assert denied.status_code == 403 and leaks(planted, denied.text) == []
    revealed = client.post(url, json={"reason": "customer dispute #42"}, headers=admin)
    assert revealed.status_code == 200 and revealed.json()["text"] == texts[0]

    text_dump, ciphertext = database_dump(migrated_url)
    assert marker in text_dump  # the dump really holds the stored messages
    assert leaks(planted, text_dump) == []
    assert [name for name, value in planted.items() if value.encode() in ciphertext] == []
    metrics = client.get("/metrics").text + generate_latest(REGISTRY).decode()
    assert "salesai_http_requests_total" in metrics and leaks(planted, metrics) == []
    lines = [JsonFormatter().format(record) for record in caplog.records]
    logged = "\n".join(lines)
    assert '"msg": "http"' in logged and '"msg": "rpc"' in logged  # the gateway and the service both logged
    assert leaks(planted, logged) == []
    db = Database(migrated_url)
    with db.session() as s:
        outcomes = sorted(s.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "reveal_raw")))
    assert outcomes == ["allowed"] + ["denied"] * (len(Role) - 1)

    erased = client.delete(f"/v1/customers/{CUSTOMER}", headers=crm)
    assert erased.json() == {
        "customer_id": CUSTOMER,
        "interactions_erased": 3,
        "derived_erased": {},
        "pending": ["similar_index", "training_files"],
    }
    assert client.get(f"/v1/customers/{CUSTOMER}/export", headers=crm).json()["interactions"] == []
    assert client.get(f"/v1/interactions/{stored[0]['id']}", headers=crm).status_code == 404
    assert client.post(url, json={"reason": "after erasure"}, headers=admin).status_code == 404
    with db.session() as s:
        for model in (Interaction, RawText, InteractionPrediction, AnnotationItem):
            left = s.scalar(select(func.count()).select_from(model).where(model.tenant_id == "acme"))
            assert left == (1 if model in (Interaction, RawText) else 0), model.__tablename__  # c-other's message
        assert s.scalars(select(ConversationPseudonyms.customer_id)).all() == []
    db.dispose()
    text_dump, ciphertext = database_dump(migrated_url)
    assert marker not in text_dump  # no record derived from the customer's text is left
    assert text_dump.count(f'"{CUSTOMER}"') == 1  # only the erasure's own audit row still names the customer
