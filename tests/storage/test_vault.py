"""Raw-zone encryption: per-tenant data keys wrapped by the master key, integrity, rotation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.common.errors import FailedPrecondition
from services.common.storage import Database
from services.common.storage.models import RawText, TenantKey
from services.ingestion.vault import Sealed, TenantVault

MASTER = b"m" * 32
SECRET = "我的身份证号码是 11010519491231002X"


@pytest.fixture
def db(migrated_url: str):
    database = Database(migrated_url)
    from services.common.storage.models import Interaction, Tenant

    with database.session() as s:
        for tenant in ("t1", "t2"):
            s.add(Tenant(id=tenant, name=tenant))
        s.flush()
        s.add(Interaction(id="i1", tenant_id="t1", external_id="e1", language="zh", redacted_text="x"))
    yield database
    database.dispose()


def test_seal_and_open_round_trip_without_plaintext_at_rest(db: Database) -> None:
    vault = TenantVault(MASTER)
    with db.session() as s:
        sealed = vault.seal(s, "t1", "i1", SECRET)
        assert SECRET.encode() not in sealed.ciphertext
        assert vault.open(s, "t1", "i1", sealed) == SECRET
        wrapped = s.scalar(select(TenantKey.wrapped_key))
        assert wrapped is not None and len(wrapped) == 12 + 32 + 16


@pytest.mark.parametrize(
    ("tenant", "record"),
    [("t2", "i1"), ("t1", "other-record")],
    ids=["other-tenant", "other-record"],
)
def test_ciphertext_is_bound_to_its_tenant_and_record(db: Database, tenant: str, record: str) -> None:
    vault = TenantVault(MASTER)
    with db.session() as s:
        sealed = vault.seal(s, "t1", "i1", SECRET)
        vault.seal(s, "t2", "i9", "make t2 a key")
        with pytest.raises(FailedPrecondition):
            vault.open(s, tenant, record, sealed)


def test_tampered_ciphertext_is_rejected(db: Database) -> None:
    vault = TenantVault(MASTER)
    with db.session() as s:
        sealed = vault.seal(s, "t1", "i1", SECRET)
        flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
        with pytest.raises(FailedPrecondition, match="integrity"):
            vault.open(s, "t1", "i1", Sealed(sealed.key_version, sealed.nonce, flipped))


def test_wrong_master_key_cannot_unwrap(db: Database) -> None:
    with db.session() as s:
        sealed = TenantVault(MASTER).seal(s, "t1", "i1", SECRET)
        with pytest.raises(FailedPrecondition, match="master key"):
            TenantVault(b"x" * 32).open(s, "t1", "i1", sealed)


def test_rotation_reencrypts_and_old_versions_still_open(db: Database) -> None:
    vault = TenantVault(MASTER)
    with db.session() as s:
        sealed = vault.seal(s, "t1", "i1", SECRET)
        s.add(
            RawText(
                interaction_id="i1",
                tenant_id="t1",
                key_version=sealed.key_version,
                nonce=sealed.nonce,
                ciphertext=sealed.ciphertext,
            )
        )
    with db.session() as s:
        assert vault.rotate(s, "t1") == 2
    with db.session() as s:
        row = s.get(RawText, "i1")
        assert row is not None and row.key_version == 2
        assert vault.open(s, "t1", "i1", Sealed(row.key_version, row.nonce, row.ciphertext)) == SECRET
        assert vault.open(s, "t1", "i1", sealed) == SECRET  # version 1 is kept for old copies


def test_master_key_must_be_32_bytes() -> None:
    with pytest.raises(FailedPrecondition):
        TenantVault(b"short")
