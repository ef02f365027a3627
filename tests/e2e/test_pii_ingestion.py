"""The ingestion service over real gRPC, on SQLite and PostgreSQL: ``IngestBatch`` is idempotent on
(tenant, external id), pseudonyms stay consistent within a conversation, the master zone holds no raw value while
the raw zone holds ciphertext that only ``RevealRaw`` (admin, with a reason, audited) opens, and the tenant's
data key rotates under a serving service without losing a record."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from salesai.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sqlalchemy import func, select

from services.common.roles import Role
from services.common.secrets import load_secrets
from services.common.server import GrpcServer
from services.common.storage import Database
from services.common.storage.models import AuditEvent, ConversationPseudonyms, Interaction, RawText, TenantKey
from services.ingestion.config import IngestionSettings
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.redaction.checksums import cn_id_check_char, luhn_check_digit
from services.ingestion.server import create_server
from services.ingestion.vault import TenantVault

PHONE = "13987650432"
ID = "51010719880214203"
ID += cn_id_check_char(ID)
CARD = "622202100112345678"
CARD += luhn_check_digit(CARD)
EMAIL = "lin.canary@corp-mail.cn"
MESSAGE = f"您好，手机{PHONE}，邮箱{EMAIL}，身份证{ID}，卡号{CARD}，预算下周定"
PLANTED = (PHONE, ID, CARD, EMAIL)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(use_spacy=False))


@pytest.fixture
def settings(migrated_url: str, secrets_env: dict[str, str]) -> IngestionSettings:
    return IngestionSettings(port=0, database_url=migrated_url, max_text_bytes=4096, grace_seconds=5)


@pytest.fixture
def stub(settings: IngestionSettings, redactor: Redactor) -> Iterator[ingestion_pb2_grpc.IngestionServiceStub]:
    server: GrpcServer
    server, _ = create_server(settings, redactor=redactor)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield ingestion_pb2_grpc.IngestionServiceStub(channel)
    server.stop(0)


@pytest.fixture
def db(migrated_url: str) -> Iterator[Database]:
    database = Database(migrated_url)
    yield database
    database.dispose()


def _request(external_id: str, text: str, tenant: str = "acme", **fields: str) -> ingestion_pb2.IngestRequest:
    return ingestion_pb2.IngestRequest(tenant_id=tenant, external_id=external_id, text=text.encode(), **fields)


def _reveal(stub, interaction_id: str, role: Role = Role.ADMIN, reason: str = "ticket 7") -> str:  # type: ignore[no-untyped-def]
    request = ingestion_pb2.RevealRawRequest(
        tenant_id="acme", interaction_id=interaction_id, actor="key-1", role=role.value, reason=reason
    )
    return stub.RevealRaw(request, timeout=10).text


def test_ingest_batch_is_idempotent_on_tenant_and_external_id(stub, db: Database) -> None:
    first = stub.Ingest(_request("e-1", f"手机{PHONE}"), timeout=10)
    assert first.created
    batch = [
        _request("e-1", "a retry of e-1 with other text"),  # already stored by the unary call
        _request("e-2", f"邮箱{EMAIL}"),
        _request("e-2", "a duplicate inside the same stream"),
        _request("e-2", f"邮箱{EMAIL}", tenant="globex"),  # same external id, another tenant: a new record
        _request("e-3", "没有个人信息"),
    ]
    replies = list(stub.IngestBatch(iter(batch), timeout=30))
    assert [r.created for r in replies] == [False, True, False, True, True]
    ids = [r.interaction.id for r in replies]
    assert ids[0] == first.interaction.id and ids[2] == ids[1] and ids[3] != ids[1]
    assert replies[0].interaction.redacted_text == "手机<PHONE_1>"  # the first stored text wins
    assert replies[2].interaction.redacted_text == "邮箱<EMAIL_1>"
    assert [r.interaction.tenant_id for r in replies] == ["acme", "acme", "acme", "globex", "acme"]

    again = list(stub.IngestBatch(iter(batch), timeout=30))  # the whole batch retried
    assert [r.created for r in again] == [False] * 5
    assert [r.interaction.id for r in again] == ids
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 4
        assert s.scalar(select(func.count()).select_from(RawText)) == 4


def test_a_refused_message_in_a_batch_gets_its_own_error_and_the_stream_goes_on(stub, db: Database) -> None:
    batch = [
        _request("b-1", f"手机{PHONE}"),
        ingestion_pb2.IngestRequest(tenant_id="acme", external_id="b-2", text=b"\xff\xfe broken utf-8"),
        _request("b-3", "x" * 70_000),  # over the size limit
        _request("b-4", "hello", direction="sideways"),
        _request("b-5", "预算冻结了"),
    ]
    replies = list(stub.IngestBatch(iter(batch), timeout=30))
    assert [r.index for r in replies] == [0, 1, 2, 3, 4]
    assert [r.HasField("error") for r in replies] == [False, True, True, True, False]
    assert replies[1].error.code == "INVALID_ARGUMENT" and "UTF-8" in replies[1].error.message
    assert replies[2].error.reason == "payload_too_large"
    assert replies[3].error.code == "INVALID_ARGUMENT" and "direction" in replies[3].error.message
    assert all(PHONE not in r.error.message for r in replies)
    assert replies[0].created and replies[4].created and replies[4].interaction.redacted_text == "预算冻结了"
    with db.session() as s:
        stored = s.scalars(select(Interaction.external_id).where(Interaction.external_id.like("b-%"))).all()
    assert sorted(stored) == ["b-1", "b-5"]


def test_pseudonyms_are_consistent_within_a_conversation(stub) -> None:
    other = "13011112222"
    conv_a = [
        _request("a-1", f"手机{PHONE}", conversation_id="conv-a", customer_id="c-1"),
        _request("a-2", f"新号码{other} 旧的 +86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]} 停用", conversation_id="conv-a"),
        _request("a-3", f"还是打{PHONE}吧 或者{other}", conversation_id="conv-a"),
    ]
    conv_b = [_request("b-1", f"我的手机{other}", conversation_id="conv-b")]
    # (the master zone stores NFKC text: a full-width comma would come back as ",")
    replies = [r.interaction.redacted_text for r in stub.IngestBatch(iter(conv_a + conv_b), timeout=30)]
    assert replies == [
        "手机<PHONE_1>",
        "新号码<PHONE_2> 旧的 <PHONE_1> 停用",
        "还是打<PHONE_1>吧 或者<PHONE_2>",
        "我的手机<PHONE_1>",  # numbering is per conversation
    ]


def test_master_zone_holds_no_raw_value_and_the_raw_zone_only_ciphertext(stub, db: Database) -> None:
    reply = stub.Ingest(_request("m-1", MESSAGE, conversation_id="conv-m", customer_id="c-m"), timeout=10)
    stored = reply.interaction
    assert {e.type for e in stored.entities} == {"PHONE_NUMBER", "EMAIL_ADDRESS", "CN_RESIDENT_ID", "BANK_CARD"}
    with db.session() as s:
        master = s.get(Interaction, stored.id)
        pseudonyms = s.get(ConversationPseudonyms, ("acme", "conv-m"))
        raw = s.get(RawText, stored.id)
        assert master is not None and pseudonyms is not None and raw is not None
        master_zone = repr(vars(master)) + repr(pseudonyms.state)
        ciphertext = bytes(raw.ciphertext)
    for value in PLANTED:
        assert value not in master_zone
        assert value.encode() not in ciphertext
    original = _reveal(stub, stored.id)
    assert original == MESSAGE
    # entity offsets point into the original text (which only the raw zone holds)
    assert sorted(original[e.start : e.end] for e in stored.entities) == sorted(PLANTED)


def test_reveal_needs_the_admin_role_and_a_reason_and_is_audited(stub, db: Database) -> None:
    stored = stub.Ingest(_request("r-1", MESSAGE), timeout=10).interaction
    refused = [role for role in Role if role is not Role.ADMIN]
    for role in refused:
        with pytest.raises(grpc.RpcError) as denied:
            _reveal(stub, stored.id, role)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert PHONE not in (denied.value.details() or "")
    with pytest.raises(grpc.RpcError) as no_reason:
        _reveal(stub, stored.id, reason="  ")
    assert no_reason.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _reveal(stub, stored.id, reason="customer dispute #42") == MESSAGE
    with db.session() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == "reveal_raw")).all()
        outcomes = sorted((r.outcome, r.role) for r in rows)
        allowed = [r for r in rows if r.outcome == "allowed"]
    assert outcomes == sorted([("denied", r.value) for r in refused] + [("allowed", "admin")])
    assert allowed[0].reason == "customer dispute #42" and allowed[0].target_id == stored.id


def test_data_key_rotation_under_a_serving_service(stub, db: Database, settings: IngestionSettings) -> None:
    vault = TenantVault(load_secrets(settings).master_key)
    old = stub.Ingest(_request("k-1", MESSAGE), timeout=10).interaction
    stub.Ingest(_request("k-g", f"手机{PHONE}", tenant="globex"), timeout=10)
    with db.session() as s:
        assert vault.rotate(s, "acme", reencrypt=False) == 2
    new = stub.Ingest(_request("k-2", f"新手机{PHONE}"), timeout=10).interaction
    with db.session() as s:
        assert (s.get(RawText, old.id).key_version, s.get(RawText, new.id).key_version) == (1, 2)  # type: ignore[union-attr]
    assert _reveal(stub, old.id) == MESSAGE and _reveal(stub, new.id) == f"新手机{PHONE}"

    with db.session() as s:
        before = bytes(s.get(RawText, old.id).ciphertext)  # type: ignore[union-attr]
        assert vault.rotate(s, "acme") == 3  # and re-encrypt every acme row under version 3
    with db.session() as s:
        acme_rows = s.scalars(select(RawText).where(RawText.tenant_id == "acme")).all()
        assert {r.key_version for r in acme_rows} == {3}
        assert bytes(s.get(RawText, old.id).ciphertext) != before  # type: ignore[union-attr]
        versions = s.execute(select(TenantKey.tenant_id, func.max(TenantKey.version)).group_by(TenantKey.tenant_id))
        assert dict(versions.all()) == {"acme": 3, "globex": 1}  # another tenant's key is untouched
    assert _reveal(stub, old.id) == MESSAGE and _reveal(stub, new.id) == f"新手机{PHONE}"
    after = stub.Ingest(_request("k-3", "第三条"), timeout=10).interaction
    with db.session() as s:
        assert s.get(RawText, after.id).key_version == 3  # type: ignore[union-attr]
