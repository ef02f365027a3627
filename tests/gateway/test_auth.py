"""API keys: hashed at rest, verified in constant time, revocable, one tenant and role each."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.auth import KeyStore
from services.common.errors import InvalidArgument, NotFound, Unauthenticated
from services.common.roles import Role
from services.common.storage import Database
from services.common.storage.models import ApiKey


@pytest.fixture
def store(migrated_url: str):
    db = Database(migrated_url)
    yield KeyStore(db, b"pepper", cache_seconds=0)
    db.dispose()


def test_minted_key_verifies_to_its_tenant_and_role(store: KeyStore) -> None:
    minted = store.create("acme", Role.CRM_BACKEND, "CRM prod")
    caller = store.verify(minted.token)
    assert (caller.tenant_id, caller.role, caller.key_id) == ("acme", Role.CRM_BACKEND, minted.key_id)


def test_secret_is_not_stored(store: KeyStore) -> None:
    minted = store.create("acme", "admin")
    secret = minted.token.split("_", 2)[2]
    with store.db.session() as s:
        row = s.scalar(select(ApiKey))
        assert row is not None
        assert secret not in row.secret_hash and minted.token not in row.secret_hash
        assert len(row.secret_hash) == 64


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: "sai_ffffffffffff_" + t.split("_", 2)[2],  # unknown id
        lambda t: "not-a-key",
        lambda t: "",
        lambda t: "sai__",
    ],
    ids=["wrong-secret", "unknown-id", "garbage", "empty", "empty-parts"],
)
def test_bad_tokens_are_rejected(store: KeyStore, mangle) -> None:
    minted = store.create("acme", Role.SALES_REP)
    with pytest.raises(Unauthenticated):
        store.verify(mangle(minted.token))


def test_revoked_key_is_rejected(store: KeyStore) -> None:
    minted = store.create("acme", Role.LABELLER)
    store.verify(minted.token)
    store.revoke(minted.key_id)
    with pytest.raises(Unauthenticated):
        store.verify(minted.token)


def test_different_pepper_does_not_verify(store: KeyStore) -> None:
    minted = store.create("acme", Role.ADMIN)
    with pytest.raises(Unauthenticated):
        KeyStore(store.db, b"other pepper", cache_seconds=0).verify(minted.token)


def test_unknown_role_and_missing_key_are_clear_errors(store: KeyStore) -> None:
    with pytest.raises(InvalidArgument, match="unknown role"):
        store.create("acme", "superuser")
    with pytest.raises(NotFound):
        store.revoke("nope")
