"""The raw zone's envelope encryption: AES-256-GCM under per-tenant data keys wrapped by the master key.

A tenant's data keys are versioned; the newest encrypts, every version decrypts. ``rotate`` adds a new
version (and can re-encrypt old rows). The associated data binds a ciphertext to its tenant and record, so
a ciphertext copied onto another row or tenant does not decrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.errors import FailedPrecondition
from services.common.storage.models import RawText, TenantKey

NONCE_BYTES = 12


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

    def pseudonym_secret(self, tenant_id: str) -> bytes:
        """A per-tenant secret for keyed hashes of PII values (pseudonym consistency)."""
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

    def _current_key(self, session: Session, tenant_id: str) -> tuple[int, bytes]:
        version = session.scalar(select(func.max(TenantKey.version)).where(TenantKey.tenant_id == tenant_id))
        if version is None:
            version = self._new_key(session, tenant_id)
        return version, self._key(session, tenant_id, version)

    def _new_key(self, session: Session, tenant_id: str) -> int:
        latest = session.scalar(select(func.max(TenantKey.version)).where(TenantKey.tenant_id == tenant_id))
        version = (latest or 0) + 1
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + self._master.encrypt(nonce, AESGCM.generate_key(256), _kek_aad(tenant_id, version))
        session.add(TenantKey(tenant_id=tenant_id, version=version, wrapped_key=wrapped))
        session.flush()
        return version

    def _key(self, session: Session, tenant_id: str, version: int) -> bytes:
        row = session.get(TenantKey, (tenant_id, version))
        if row is None:
            raise FailedPrecondition(f"data key version {version} of this tenant is missing")
        nonce, wrapped = row.wrapped_key[:NONCE_BYTES], row.wrapped_key[NONCE_BYTES:]
        try:
            return self._master.decrypt(nonce, wrapped, _kek_aad(tenant_id, version))
        except InvalidTag:
            raise FailedPrecondition("a tenant data key does not open with the configured master key") from None


def _aad(tenant_id: str, record_id: str) -> bytes:
    return f"salesai/raw/{tenant_id}/{record_id}".encode()


def _kek_aad(tenant_id: str, version: int) -> bytes:
    return f"salesai/kek/{tenant_id}/{version}".encode()


def _sealed(row: RawText) -> Sealed:
    return Sealed(row.key_version, row.nonce, row.ciphertext)
