"""Key rotation from the operator's side (SQLite, then PostgreSQL): ``salesai keys rotate-data-key`` and
``rotate-master-key`` run against the database a real ingestion gRPC service serves from; reveal still returns
the original text, the old master key no longer opens anything, pseudonym numbering survives a new master key,
and every rotation is audited."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from salesai.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sqlalchemy import select
from typer.testing import CliRunner

from services.cli.keys import keys_app
from services.common.errors import FailedPrecondition
from services.common.server import GrpcServer
from services.common.storage import Database
from services.common.storage.models import AuditEvent, RawText, TenantKey
from services.ingestion.config import IngestionSettings
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.server import create_server
from services.ingestion.vault import Sealed, TenantVault

PHONE, OTHER_PHONE = "13912345678", "13698765432"
NEW_KEY = b"n" * 32


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(use_spacy=False))


@pytest.fixture
def env(migrated_url: str, secrets_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SALESAI_DATABASE_URL", migrated_url)
    return secrets_env


@pytest.fixture
def db(migrated_url: str) -> Iterator[Database]:
    database = Database(migrated_url)
    yield database
    database.dispose()


class Service:
    """An ingestion gRPC service on an ephemeral port, started with whatever master key the environment holds."""

    def __init__(self, url: str, redactor: Redactor) -> None:
        self.server: GrpcServer
        self.server, _ = create_server(IngestionSettings(port=0, database_url=url), redactor=redactor)
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.stub = ingestion_pb2_grpc.IngestionServiceStub(self.channel)

    def ingest(self, external_id: str, text: str, tenant: str = "acme") -> ingestion_pb2.IngestResponse:
        request = ingestion_pb2.IngestRequest(
            tenant_id=tenant, external_id=external_id, customer_id="c-1", conversation_id="conv-1", text=text.encode()
        )
        return self.stub.Ingest(request, timeout=10).interaction

    def reveal(self, interaction_id: str, tenant: str = "acme") -> str:
        request = ingestion_pb2.RevealRawRequest(
            tenant_id=tenant, interaction_id=interaction_id, actor="op", role="admin", reason="rotation check"
        )
        return self.stub.RevealRaw(request, timeout=10).text

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(0)


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(keys_app, list(args))
    return result.exit_code, result.output


def _audits(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_rotate_data_key_from_the_cli_keeps_every_message_revealable(
    env: dict[str, str], migrated_url: str, db: Database, redactor: Redactor
) -> None:
    service = Service(migrated_url, redactor)
    try:
        old = service.ingest("m-1", f"我的手机{PHONE}")
        other = service.ingest("g-1", f"手机{PHONE}", tenant="globex")
        code, out = _cli("rotate-data-key", "--tenant", "acme")
        assert code == 0, out
        assert "data key version 2" in out and PHONE not in out
        with db.session() as s:
            assert s.get(RawText, old.id).key_version == 2  # type: ignore[union-attr]
            assert s.get(RawText, other.id).key_version == 1  # type: ignore[union-attr]  # another tenant's: untouched
        assert service.reveal(old.id) == f"我的手机{PHONE}"

        code, out = _cli("rotate-data-key", "--tenant", "acme", "--no-reencrypt")
        assert code == 0, out
        new = service.ingest("m-2", f"新号码{OTHER_PHONE}")
        with db.session() as s:
            assert (s.get(RawText, old.id).key_version, s.get(RawText, new.id).key_version) == (2, 3)  # type: ignore[union-attr]
        assert service.reveal(old.id) == f"我的手机{PHONE}" and service.reveal(new.id) == f"新号码{OTHER_PHONE}"
        assert service.reveal(other.id, tenant="globex") == f"手机{PHONE}"
    finally:
        service.stop()
    assert [(a.tenant_id, a.target_id, a.role) for a in _audits(db, "rotate_data_key")] == [
        ("acme", "acme/v2", "operator"),
        ("acme", "acme/v3", "operator"),
    ]
    code, out = _cli("rotate-data-key", "--tenant", "nobody")
    assert code == 1 and "not found" in out


def test_rotate_master_key_rewraps_every_data_key_and_keeps_pseudonyms(
    env: dict[str, str], migrated_url: str, db: Database, redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key = base64.b64decode(env["SALESAI_MASTER_KEY"])
    service = Service(migrated_url, redactor)
    try:
        first = service.ingest("m-1", f"我的手机{PHONE}")
        globex = service.ingest("g-1", f"电话{OTHER_PHONE}", tenant="globex")
    finally:
        service.stop()
    assert "<PHONE_1>" in first.redacted_text

    monkeypatch.setenv("SALESAI_NEW_MASTER_KEY", env["SALESAI_MASTER_KEY"])
    code, out = _cli("rotate-master-key")
    assert code == 1 and "the one in use" in out  # nothing changed
    monkeypatch.setenv("SALESAI_NEW_MASTER_KEY", base64.b64encode(NEW_KEY).decode())
    code, out = _cli("rotate-master-key")
    assert code == 0, out
    assert "SALESAI_MASTER_KEY" in out and env["SALESAI_MASTER_KEY"] not in out
    assert {(a.tenant_id, a.outcome) for a in _audits(db, "rotate_master_key")} == {
        ("acme", "allowed"),
        ("globex", "allowed"),
    }

    with db.session() as s:  # the old master key opens no data key any more
        raw = s.get(RawText, first.id)
        assert raw is not None
        with pytest.raises(FailedPrecondition, match="does not open"):
            TenantVault(old_key).open(s, "acme", first.id, Sealed(raw.key_version, raw.nonce, raw.ciphertext))
        assert s.scalar(select(TenantKey.version).where(TenantKey.tenant_id == "acme", TenantKey.version == 0)) == 0

    monkeypatch.setenv("SALESAI_MASTER_KEY", base64.b64encode(NEW_KEY).decode())
    service = Service(migrated_url, redactor)
    try:
        assert service.reveal(first.id) == f"我的手机{PHONE}"
        assert service.reveal(globex.id, tenant="globex") == f"电话{OTHER_PHONE}"
        # the same conversation goes on: the known number keeps its pseudonym, a new one gets the next
        later = service.ingest("m-2", f"还是{PHONE} 或者 {OTHER_PHONE}")
        assert later.redacted_text == "还是<PHONE_1> 或者 <PHONE_2>"
        assert service.reveal(later.id) == f"还是{PHONE} 或者 {OTHER_PHONE}"
    finally:
        service.stop()


def test_rotate_master_key_of_the_embedded_default_updates_the_local_secrets_file(
    env: dict[str, str], migrated_url: str, redactor: Redactor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SALESAI_MASTER_KEY")  # the key generated into <data_dir>/secrets.json
    service = Service(migrated_url, redactor)
    try:
        stored = service.ingest("m-1", f"我的手机{PHONE}")
    finally:
        service.stop()
    secrets_file = Path(env["SALESAI_DATA_DIR"]) / "secrets.json"
    before = json.loads(secrets_file.read_text())
    key_file = tmp_path / "new.key"
    key_file.write_text(base64.b64encode(NEW_KEY).decode() + "\n")
    code, out = _cli("rotate-master-key", "--new-key-file", str(key_file))
    assert code == 0, out
    after = json.loads(secrets_file.read_text())
    assert after == {**before, "master_key": base64.b64encode(NEW_KEY).decode()}
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    service = Service(migrated_url, redactor)
    try:
        assert service.reveal(stored.id) == f"我的手机{PHONE}"
    finally:
        service.stop()
