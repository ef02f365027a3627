"""Ingestion as a library: validate, redact, store (master + encrypted raw zone), reveal, export, erase.

No gRPC here: :mod:`services.ingestion.servicer` converts protobuf to these calls and back.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.errors import InvalidArgument, NotFound, PayloadTooLarge, PermissionDenied
from services.common.roles import Role
from services.common.storage import Database
from services.common.storage.models import (
    AuditEvent,
    ConversationPseudonyms,
    Interaction,
    RawText,
    Tenant,
)
from services.ingestion.redaction import Pseudonymizer, RedactionResult, Redactor
from services.ingestion.vault import Sealed, TenantVault

#: tries to store one message when concurrent calls race to create a row it shares (see :meth:`ingest`)
STORE_ATTEMPTS = 3
log = logging.getLogger("salesai.ingestion")

LANGUAGES = ("auto", "zh", "en")
#: who wrote a message: the customer (inbound, the default) or the rep (outbound)
DIRECTIONS = ("inbound", "outbound")
MAX_ID_CHARS = 200

#: Called with (session, tenant_id, customer_id) during erasure, before the interactions are deleted; removes
#: records derived elsewhere in the same database. Vectors live outside it: the leads service's EraseCustomer.
Eraser = Callable[[Session, str, str], int]


@dataclass
class IngestCommand:
    tenant_id: str
    external_id: str
    text: bytes | str
    customer_id: str = ""
    conversation_id: str = ""
    lead_id: str = ""
    channel: str = ""
    language: str = "auto"
    occurred_at: datetime | None = None
    direction: str = "inbound"


@dataclass
class IngestOutcome:
    interaction: Interaction
    created: bool


@dataclass
class IngestionCore:
    db: Database
    redactor: Redactor
    vault: TenantVault
    max_text_bytes: int = 64 * 1024
    reveal_roles: Sequence[Role] = (Role.ADMIN,)
    erasers: list[Eraser] = field(default_factory=list)

    # -- stateless ---------------------------------------------------------------------------------
    def redact(self, text: bytes | str, language: str = "auto") -> RedactionResult:
        return self.redactor.redact(self.decode(text), _language(language))

    def decode(self, text: bytes | str) -> str:
        """Validate size and encoding; returns the text. Raises a clear error, never echoing the text."""
        raw = text.encode() if isinstance(text, str) else text
        if len(raw) > self.max_text_bytes:
            raise PayloadTooLarge(f"text is {len(raw)} bytes; the limit is {self.max_text_bytes} bytes", field="text")
        try:
            decoded = raw.decode("utf-8") if isinstance(text, bytes) else text
        except UnicodeDecodeError as err:
            raise InvalidArgument(f"text is not valid UTF-8 (bad byte at offset {err.start})", field="text") from None
        if not decoded.strip():
            raise InvalidArgument("text is empty", field="text")
        return decoded

    # -- ingest ------------------------------------------------------------------------------------
    def ingest(self, cmd: IngestCommand) -> IngestOutcome:
        """Redact and store one message. Idempotent on (tenant_id, external_id)."""
        _require_ids(tenant_id=cmd.tenant_id, external_id=cmd.external_id)
        _bounded_ids(customer_id=cmd.customer_id, conversation_id=cmd.conversation_id, lead_id=cmd.lead_id)
        text = self.decode(cmd.text)
        language = _language(cmd.language)
        cmd = replace(cmd, direction=_direction(cmd.direction))
        existing = self._find_external(cmd.tenant_id, cmd.external_id)
        if existing is not None:
            return IngestOutcome(existing, created=False)
        for attempt in range(STORE_ATTEMPTS):
            try:
                return IngestOutcome(self._store(cmd, text, language), created=True)
            except IntegrityError:
                # A concurrent call stored the same (tenant, external id) first: answer with its record.
                existing = self._find_external(cmd.tenant_id, cmd.external_id)
                if existing is not None:
                    return IngestOutcome(existing, created=False)
                # Or it created a row this one needed too (the tenant's first data key, a conversation's
                # pseudonym state): the transaction rolled back whole, so storing again is safe.
                if attempt == STORE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _store(self, cmd: IngestCommand, text: str, language: str) -> Interaction:
        self._ensure_tenant(cmd.tenant_id)
        with self.db.session() as s:
            pseudonyms = self._pseudonyms(s, cmd)
            result = self.redactor.redact(text, language, pseudonyms)
            row = Interaction(
                tenant_id=cmd.tenant_id,
                external_id=cmd.external_id,
                customer_id=cmd.customer_id,
                conversation_id=cmd.conversation_id,
                lead_id=cmd.lead_id,
                channel=cmd.channel,
                direction=cmd.direction,
                language=result.language,
                redacted_text=unicodedata.normalize("NFKC", result.text),
                entities=[_entity_json(e) for e in result.entities],
                occurred_at=cmd.occurred_at or datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            sealed = self.vault.seal(s, cmd.tenant_id, row.id, text)
            s.add(
                RawText(
                    interaction_id=row.id,
                    tenant_id=cmd.tenant_id,
                    key_version=sealed.key_version,
                    nonce=sealed.nonce,
                    ciphertext=sealed.ciphertext,
                )
            )
            if cmd.conversation_id:
                self._save_pseudonyms(s, cmd, pseudonyms)
        log.info("ingested", extra={"interaction_id": row.id, "entities": len(result.entities)})
        return row

    def _ensure_tenant(self, tenant_id: str) -> None:
        try:
            with self.db.session() as s:
                if s.get(Tenant, tenant_id) is None:
                    s.add(Tenant(id=tenant_id, name=tenant_id))
        except IntegrityError:
            pass  # created concurrently by another call

    def _pseudonyms(self, s: Session, cmd: IngestCommand) -> Pseudonymizer:
        secret = self.vault.pseudonym_secret(s, cmd.tenant_id)
        if not cmd.conversation_id:
            return Pseudonymizer(secret)
        row = s.get(ConversationPseudonyms, (cmd.tenant_id, cmd.conversation_id))
        return Pseudonymizer.from_state(secret, row.state) if row else Pseudonymizer(secret)

    def _save_pseudonyms(self, s: Session, cmd: IngestCommand, pseudonyms: Pseudonymizer) -> None:
        row = s.get(ConversationPseudonyms, (cmd.tenant_id, cmd.conversation_id))
        if row is None:
            row = ConversationPseudonyms(
                tenant_id=cmd.tenant_id, conversation_id=cmd.conversation_id, customer_id=cmd.customer_id
            )
            s.add(row)
        row.state = pseudonyms.to_state()

    def _find_external(self, tenant_id: str, external_id: str) -> Interaction | None:
        with self.db.session() as s:
            query = select(Interaction).where(
                Interaction.tenant_id == tenant_id, Interaction.external_id == external_id
            )
            return s.scalar(query)

    # -- read, reveal, export, erase -----------------------------------------------------------------
    def get(self, tenant_id: str, interaction_id: str) -> Interaction:
        with self.db.session() as s:
            return _owned(s, tenant_id, interaction_id)

    def reveal(self, tenant_id: str, interaction_id: str, actor: str, role: str, reason: str) -> tuple[str, str]:
        """Decrypt the raw text. Needs an allowed role and a reason; every attempt is audited."""
        _require_ids(tenant_id=tenant_id, interaction_id=interaction_id, actor=actor)
        if not reason.strip():
            raise InvalidArgument("a reason is required to reveal raw text", field="reason")
        with self.db.session() as s:
            audit = AuditEvent(
                tenant_id=tenant_id,
                actor=actor,
                role=role,
                action="reveal_raw",
                target_type="interaction",
                target_id=interaction_id,
                reason=reason[:2000],
            )
            if role not in self.reveal_roles:  # before any lookup: a denied caller learns nothing, not even existence
                audit.outcome = "denied"
                s.add(audit)
                s.commit()
                raise PermissionDenied(f"role {role or '(none)'!r} may not reveal raw text")
            _owned(s, tenant_id, interaction_id)
            s.add(audit)
            raw = s.get(RawText, interaction_id)
            if raw is None:
                raise NotFound("the raw text of this interaction was erased")
            text = self.vault.open(s, tenant_id, interaction_id, Sealed(raw.key_version, raw.nonce, raw.ciphertext))
            s.flush()
            return text, audit.id

    def export_customer(self, tenant_id: str, customer_id: str) -> list[Interaction]:
        _require_ids(tenant_id=tenant_id, customer_id=customer_id)
        with self.db.session() as s:
            query = (
                select(Interaction)
                .where(Interaction.tenant_id == tenant_id, Interaction.customer_id == customer_id)
                .order_by(Interaction.occurred_at, Interaction.id)
            )
            return list(s.scalars(query))

    def erase_customer(self, tenant_id: str, customer_id: str, actor: str) -> int:
        """Remove every raw, master and derived record of a customer. Returns interactions erased."""
        _require_ids(tenant_id=tenant_id, customer_id=customer_id, actor=actor)
        with self.db.session() as s:
            ids = list(
                s.scalars(
                    select(Interaction.id).where(
                        Interaction.tenant_id == tenant_id, Interaction.customer_id == customer_id
                    )
                )
            )
            for eraser in self.erasers:  # first: they find derived rows through the interactions
                eraser(s, tenant_id, customer_id)
            if ids:
                s.execute(delete(RawText).where(RawText.interaction_id.in_(ids)))
                s.execute(delete(Interaction).where(Interaction.id.in_(ids)))
            s.execute(
                delete(ConversationPseudonyms).where(
                    ConversationPseudonyms.tenant_id == tenant_id, ConversationPseudonyms.customer_id == customer_id
                )
            )
            s.add(
                AuditEvent(
                    tenant_id=tenant_id,
                    actor=actor,
                    action="erase_customer",
                    target_type="customer",
                    target_id=customer_id,
                    reason=f"{len(ids)} interactions",
                )
            )
        return len(ids)


def _owned(s: Session, tenant_id: str, interaction_id: str) -> Interaction:
    row = s.get(Interaction, interaction_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"interaction {interaction_id!r} not found")
    return row


def _language(language: str) -> str:
    language = language or "auto"
    if language not in LANGUAGES:
        raise InvalidArgument(
            f"language must be one of {', '.join(LANGUAGES)}; got {language[:20]!r}", field="language"
        )
    return language


def _direction(direction: str) -> str:
    direction = direction or "inbound"
    if direction not in DIRECTIONS:
        raise InvalidArgument(
            f"direction must be inbound (from the customer) or outbound (from the rep); got {direction[:20]!r}",
            field="direction",
        )
    return direction


def _require_ids(**ids: str) -> None:
    for name, value in ids.items():
        if not value:
            raise InvalidArgument(f"{name} is required", field=name)
    _bounded_ids(**ids)


def _bounded_ids(**ids: str) -> None:
    for name, value in ids.items():
        if len(value) > MAX_ID_CHARS:
            raise InvalidArgument(f"{name} is longer than {MAX_ID_CHARS} characters", field=name)


def _entity_json(entity: object) -> dict[str, object]:
    return {k: getattr(entity, k) for k in ("type", "start", "end", "score", "placeholder")}
