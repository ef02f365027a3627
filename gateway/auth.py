"""API keys: minted as ``sai_<id>_<secret>``; only the id and a peppered HMAC of the secret are stored.

A key belongs to one tenant and has one role. Verification is constant-time and cached briefly so the hot
path does not hit the database on every request (revocation takes effect within ``cache_seconds``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from services.common.errors import InvalidArgument, NotFound, Unauthenticated
from services.common.roles import Role, parse_role
from services.common.storage import Database
from services.common.storage.models import ApiKey, Tenant

PREFIX = "sai"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the authenticated key's id, tenant and role."""

    key_id: str
    tenant_id: str
    role: Role


@dataclass(frozen=True)
class MintedKey:
    key_id: str
    tenant_id: str
    role: Role
    token: str  # shown once, never stored


class KeyStore:
    def __init__(self, db: Database, pepper: bytes, cache_seconds: float = 5.0) -> None:
        self.db = db
        self._pepper = pepper
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str, Caller]] = {}
        self._lock = threading.Lock()

    def _hash(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    def create(self, tenant_id: str, role: str | Role, name: str = "") -> MintedKey:
        if not tenant_id or len(tenant_id) > 64:
            raise InvalidArgument("tenant id must be 1-64 characters", field="tenant")
        parsed = parse_role(str(role))
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self.db.session() as s:
            if s.get(Tenant, tenant_id) is None:
                s.add(Tenant(id=tenant_id, name=tenant_id))
                s.flush()
            s.add(ApiKey(id=key_id, tenant_id=tenant_id, name=name, role=parsed.value, secret_hash=self._hash(secret)))
        return MintedKey(key_id, tenant_id, parsed, f"{PREFIX}_{key_id}_{secret}")

    def revoke(self, key_id: str) -> None:
        with self.db.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"API key {key_id!r} not found")
            row.revoked_at = datetime.now(UTC)
        with self._lock:
            self._cache.pop(key_id, None)

    def list(self, tenant_id: str | None = None) -> list[ApiKey]:
        with self.db.session() as s:
            query = select(ApiKey).order_by(ApiKey.created_at)
            if tenant_id:
                query = query.where(ApiKey.tenant_id == tenant_id)
            return list(s.scalars(query))

    def verify(self, token: str) -> Caller:
        """The caller a token authenticates, or :class:`Unauthenticated` (never saying which part failed)."""
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != PREFIX or not key_id or not secret:
            raise Unauthenticated("malformed API key")
        hashed, now = self._hash(secret), time.monotonic()
        with self._lock:
            cached = self._cache.get(key_id)
        if cached and cached[0] > now and hmac.compare_digest(cached[1], hashed):
            return cached[2]
        with self.db.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, hashed):
                raise Unauthenticated("invalid or revoked API key")
            caller = Caller(row.id, row.tenant_id, Role(row.role))
        with self._lock:
            self._cache[key_id] = (now + self._cache_seconds, hashed, caller)
        return caller
