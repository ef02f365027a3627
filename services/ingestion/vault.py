"""The raw zone's envelope encryption: AES-256-GCM under per-tenant data keys wrapped by the master key.

A tenant's data keys are versioned (1, 2, ...); the newest encrypts, every version decrypts. ``rotate`` adds a new
version (and can re-encrypt old rows). The associated data binds a ciphertext to its tenant and record, so
a ciphertext copied onto another row or tenant does not decrypt.

``rewrap`` re-wraps every data key under a new master key (master-key rotation) in the caller's transaction: the
old key opens everything until it commits, the new one after. The pseudonym secret of a tenant (the key of the
hashes that keep ``<PHONE_1>`` the same number within a conversation) was derived from the master key; ``rewrap``
stores each tenant's current secret as version 0 of its keys, wrapped like a data key, so a new master key does
not renumber pseudonyms. Tenants first seen after a rotation derive it from the master key in use, until the
next rotation stores it. Operators: ``salesai keys rotate-data-key`` / ``rotate-master-key`` (infra/README.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.errors import FailedPrecondition
from services.common.storage.models import RawText, TenantKey

NONCE_BYTES = 12
#: the version of ``tenant_keys`` that holds a tenant's pseudonym secret instead of a data key
PSEUDONYM_VERSION = 0


@dataclass(frozen=True)
class Sealed:
    key_version: int
    nonce: bytes
    ciphertext: bytes


class TenantVault:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise FailedPrecondition("the master key must be 32 bytes")
        self._master = AESGCM(master_key)
        self._master_key = master_key

    def pseudonym_secret(self, session: Session, tenant_id: str) -> bytes:
        """A per-tenant secret for keyed hashes of PII values (pseudonym consistency): the stored one, once a
        master-key rotation stored it, else derived from the master key."""
        row = session.get(TenantKey, (tenant_id, PSEUDONYM_VERSION))
        if row is not None:
            return self._unwrap(row)
        return self._derived_pseudonym_secret(tenant_id)

    def _derived_pseudonym_secret(self, tenant_id: str) -> bytes:
        return hmac.new(self._master_key, b"pseudonym:" + tenant_id.encode(), hashlib.sha256).digest()

    def seal(self, session: Session, tenant_id: str, record_id: str, plaintext: str) -> Sealed:
        version, key = self._current_key(session, tenant_id)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode(), _aad(tenant_id, record_id))
        return Sealed(version, nonce, ciphertext)

    def open(self, session: Session, tenant_id: str, record_id: str, sealed: Sealed) -> str:
        key = self._key(session, tenant_id, sealed.key_version)
        try:
            plaintext = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, _aad(tenant_id, record_id))
        except InvalidTag:
            raise FailedPrecondition("raw record failed its integrity check") from None
        return plaintext.decode()

    def rotate(self, session: Session, tenant_id: str, reencrypt: bool = True) -> int:
        """Create a new data-key version; optionally re-encrypt the tenant's raw rows under it."""
        version = self._new_key(session, tenant_id)
        if reencrypt:
            for row in session.scalars(select(RawText).where(RawText.tenant_id == tenant_id)):
                text = self.open(session, tenant_id, row.interaction_id, _sealed(row))
                sealed = self.seal(session, tenant_id, row.interaction_id, text)
                row.key_version, row.nonce, row.ciphertext = sealed.key_version, sealed.nonce, sealed.ciphertext
        return version

    def rewrap(self, session: Session, new_master_key: bytes, tenant_ids: Iterable[str]) -> int:
        """Wrap every tenant's data keys under ``new_master_key`` (and store the pseudonym secret of each of
        ``tenant_ids`` that has none yet); the number of keys re-wrapped. Commit to switch; roll back to abandon."""
        if hmac.compare_digest(new_master_key, self._master_key):
            raise FailedPrecondition("the new master key is the one in use")
        new = TenantVault(new_master_key)
        for tenant_id in tenant_ids:
            if session.get(TenantKey, (tenant_id, PSEUDONYM_VERSION)) is None:
                secret = self._derived_pseudonym_secret(tenant_id)
                session.add(
                    TenantKey(
                        tenant_id=tenant_id,
                        version=PSEUDONYM_VERSION,
                        wrapped_key=self._wrap(tenant_id, PSEUDONYM_VERSION, secret),
                    )
                )
        session.flush()
        rows = list(session.scalars(select(TenantKey).order_by(TenantKey.tenant_id, TenantKey.version)))
        for row in rows:
            key = self._unwrap(row)
            row.wrapped_key = new._wrap(row.tenant_id, row.version, key)
            if new._unwrap(row) != key:  # pragma: no cover - AES-GCM round trip; checked before anything commits
                raise FailedPrecondition("a re-wrapped key does not open with the new master key")
        session.flush()
        return len(rows)

    def _current_key(self, session: Session, tenant_id: str) -> tuple[int, bytes]:
        version = session.scalar(
            select(func.max(TenantKey.version)).where(
                TenantKey.tenant_id == tenant_id, TenantKey.version > PSEUDONYM_VERSION
            )
        )
        if version is None:
            version = self._new_key(session, tenant_id)
        return version, self._key(session, tenant_id, version)

    def _new_key(self, session: Session, tenant_id: str) -> int:
        latest = session.scalar(select(func.max(TenantKey.version)).where(TenantKey.tenant_id == tenant_id))
        version = (latest or PSEUDONYM_VERSION) + 1
        wrapped = self._wrap(tenant_id, version, AESGCM.generate_key(256))
        session.add(TenantKey(tenant_id=tenant_id, version=version, wrapped_key=wrapped))
        session.flush()
        return version

    def _key(self, session: Session, tenant_id: str, version: int) -> bytes:
        row = session.get(TenantKey, (tenant_id, version)) if version > PSEUDONYM_VERSION else None
        if row is None:
            raise FailedPrecondition(f"data key version {version} of this tenant is missing")
        return self._unwrap(row)

    def _wrap(self, tenant_id: str, version: int, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, key, _kek_aad(tenant_id, version))

    def _unwrap(self, row: TenantKey) -> bytes:
        nonce, wrapped = row.wrapped_key[:NONCE_BYTES], row.wrapped_key[NONCE_BYTES:]
        try:
            return self._master.decrypt(nonce, wrapped, _kek_aad(row.tenant_id, row.version))
        except InvalidTag:
            raise FailedPrecondition("a tenant data key does not open with the configured master key") from None


def _aad(tenant_id: str, record_id: str) -> bytes:
    return f"salesai/raw/{tenant_id}/{record_id}".encode()


def _kek_aad(tenant_id: str, version: int) -> bytes:
    return f"salesai/kek/{tenant_id}/{version}".encode()


def _sealed(row: RawText) -> Sealed:
    return Sealed(row.key_version, row.nonce, row.ciphertext)
