"""The relational schema (SQLAlchemy 2 declarative). Alembic migrations in ``migrations/`` create it.

Zones: ``interactions`` is the *master zone* (redacted text and entity types/offsets only — never a raw
value); ``raw_texts`` is the *raw zone* (AES-256-GCM ciphertext under a per-tenant data key, itself
wrapped by the master key in ``tenant_keys``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only its id and a peppered hash of its secret are stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class Interaction(Base):
    """Master zone: one redacted customer message."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id", name="uq_interactions_tenant_external"),
        Index("ix_interactions_tenant_customer", "tenant_id", "customer_id"),
        Index("ix_interactions_tenant_lead", "tenant_id", "lead_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str] = mapped_column(String(200), default="")
    conversation_id: Mapped[str] = mapped_column(String(200), default="")
    lead_id: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(40), default="")
    language: Mapped[str] = mapped_column(String(8))
    redacted_text: Mapped[str] = mapped_column(Text)
    entities: Mapped[list[Any]] = mapped_column(default=list)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantKey(Base):
    """A tenant's data key, wrapped (AES-GCM) by the master key. The highest active version encrypts."""

    __tablename__ = "tenant_keys"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RawText(Base):
    """Raw zone: the original text, encrypted. Opened only by an authorised, audited call."""

    __tablename__ = "raw_texts"

    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    key_version: Mapped[int] = mapped_column(Integer)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class ConversationPseudonyms(Base):
    """Placeholder numbering of one conversation, keyed by keyed hashes (never raw values)."""

    __tablename__ = "conversation_pseudonyms"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), default="", index=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEvent(Base):
    """Who did what to which record, and why. Never holds the data itself."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_time", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), default="")
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(64), default="")
    target_id: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="allowed")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A registered model version of a task (files under the registry folder; this row is the index)."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "task", "version", name="uq_model_versions_tenant_task_version"),
        Index("ix_model_versions_task", "task", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64), default="")  # "" = global, serves every tenant
    task: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(16), default="registered")  # registered | production | archived
    labels: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_hash: Mapped[str] = mapped_column(String(64), default="")
    base_model_hash: Mapped[str] = mapped_column(String(200), default="")
    method: Mapped[str] = mapped_column(String(32), default="lora")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suggestion(Base):
    """A next-action suggestion shown to a rep: its draft is redacted text only, and it is never auto-sent."""

    __tablename__ = "suggestions"
    __table_args__ = (Index("ix_suggestions_tenant_lead", "tenant_id", "lead_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # deterministic: see services.suggestions
    tenant_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[str] = mapped_column(String(200), default="")
    rule: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(16), default="customer", server_default="customer")
    title: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column()
    language: Mapped[str] = mapped_column(String(8))
    draft: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | accepted | edited | rejected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuggestionFeedback(Base):
    """A rep's verdict on a suggestion; ``edited_text`` is redacted before it is stored."""

    __tablename__ = "suggestion_feedback"
    __table_args__ = (Index("ix_suggestion_feedback_tenant_time", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    suggestion_id: Mapped[str] = mapped_column(ForeignKey("suggestions.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # accepted | edited | rejected
    edited_text: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuggestionDelivery(Base):
    """One suggestion sent to one channel: attempts, status and the last error (never a payload or PII)."""

    __tablename__ = "suggestion_deliveries"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_suggestion_deliveries_idempotency_key"),
        Index("ix_suggestion_deliveries_tenant_time", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    suggestion_id: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed | blocked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class ModelRoute(Base):
    """How a task's traffic is split for a tenant ("" = global): survives restarts of the inference service."""

    __tablename__ = "model_routes"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    stable: Mapped[str] = mapped_column(String(32), default="")
    canary: Mapped[str] = mapped_column(String(32), default="")
    canary_percent: Mapped[float] = mapped_column(default=0.0)
    shadow: Mapped[str] = mapped_column(String(32), default="")
    previous: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
