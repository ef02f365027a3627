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
    """Master zone: one redacted message, from the customer (``inbound``) or the rep (``outbound``)."""

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
    direction: Mapped[str] = mapped_column(String(8), default="inbound", server_default="inbound")
    language: Mapped[str] = mapped_column(String(8))
    redacted_text: Mapped[str] = mapped_column(Text)
    entities: Mapped[list[Any]] = mapped_column(default=list)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantKey(Base):
    """A tenant's data key, wrapped (AES-GCM) by the master key. The highest active version encrypts.

    Version 0 is not a data key: it holds the tenant's pseudonym secret, wrapped the same way, so rotating the
    master key re-wraps it and never renumbers a conversation's pseudonyms.
    """

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


# --- annotation workbench (issue #7) -------------------------------------------------------------------------
# Items hold redacted text only. Span offsets are Unicode code points. Label changes are audited in audit_events.


class AnnotationProject(Base):
    """A labelling project: its label schema, how many labellers see each item, and the pre-annotation task."""

    __tablename__ = "annotation_projects"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_annotation_projects_tenant_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))  # single | multi | span
    labels: Mapped[list[Any]] = mapped_column(default=list)  # [{name, description, hotkey}]
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    task: Mapped[str] = mapped_column(String(64), default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    feedback_pulled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AnnotationItem(Base):
    """One redacted text to label. ``queue_key`` orders the queue: lowest first (feedback < confidence < none)."""

    __tablename__ = "annotation_items"
    __table_args__ = (
        UniqueConstraint("project_id", "content_hash", name="uq_annotation_items_project_hash"),
        # ordered walk for "next item"; annotation_count makes the "remaining" count index-only
        Index("ix_annotation_items_queue", "project_id", "queue_key", "seq", "annotation_count"),
        Index("ix_annotation_items_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(ForeignKey("annotation_projects.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # interaction | text | upload | label_studio | feedback
    interaction_id: Mapped[str] = mapped_column(String(32), default="")
    customer_id: Mapped[str] = mapped_column(String(200), default="")  # so erasing a customer reaches their items
    external_id: Mapped[str] = mapped_column(String(200), default="")
    lang: Mapped[str] = mapped_column(String(8), default="")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prediction_label: Mapped[str] = mapped_column(String(200), default="")
    prediction_confidence: Mapped[float | None] = mapped_column(default=None)
    queue_key: Mapped[float] = mapped_column(default=1.0)
    annotation_count: Mapped[int] = mapped_column(Integer, default=0)
    gold: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # {labels, spans}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Annotation(Base):
    """One labeller's answer on one item (labeller = ``key:<api key id>``); edits update it in place, audited."""

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("item_id", "labeller", name="uq_annotations_item_labeller"),
        Index("ix_annotations_project_labeller", "project_id", "labeller", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(ForeignKey("annotation_projects.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(ForeignKey("annotation_items.id", ondelete="CASCADE"))
    labeller: Mapped[str] = mapped_column(String(200))
    labels: Mapped[list[Any]] = mapped_column(default=list)
    spans: Mapped[list[Any]] = mapped_column(default=list)  # [{start, end, label}] in code points
    skipped: Mapped[bool] = mapped_column(default=False)
    seconds: Mapped[float | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AnnotationComment(Base):
    """A note on an item, visible to everyone on the project."""

    __tablename__ = "annotation_comments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(ForeignKey("annotation_items.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnnotationResolution(Base):
    """A reviewer's final answer for an item; it overrides the labellers' votes in snapshots."""

    __tablename__ = "annotation_resolutions"

    item_id: Mapped[str] = mapped_column(ForeignKey("annotation_items.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(ForeignKey("annotation_projects.id", ondelete="CASCADE"), index=True)
    labels: Mapped[list[Any]] = mapped_column(default=list)
    spans: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    resolved_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AnnotationSnapshot(Base):
    """An immutable, versioned dataset cut: the exported rows themselves and the sha256 of their JSONL."""

    __tablename__ = "annotation_snapshots"
    __table_args__ = (UniqueConstraint("project_id", "version", name="uq_annotation_snapshots_project_version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("annotation_projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # seed, dev, test, min_annotations
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # train, dev, test, excluded
    label_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rows: Mapped[list[Any]] = mapped_column(default=list)  # the exported rows, in export order
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- end of annotation workbench -----------------------------------------------------------------------------


# --- training jobs (issue #8: the job runner) ----------------------------------------------------------------


class TrainingJob(Base):
    """One training run of a task: queued, run by a worker process, evaluated, gated, maybe deployed.

    ``config``/``data_sha256``/``base_model_hash``/``code_version``/``seed``/``device`` are what reproduces it.
    """

    __tablename__ = "training_jobs"
    __table_args__ = (
        Index("ix_training_jobs_tenant_time", "tenant_id", "created_at"),
        Index("ix_training_jobs_state", "state", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(64))
    # queued | running | succeeded | failed | cancelled | interrupted
    state: Mapped[str] = mapped_column(String(16), default="queued")
    dataset_path: Mapped[str] = mapped_column(Text, default="")
    snapshot_id: Mapped[str] = mapped_column(String(64), default="")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deploy: Mapped[str] = mapped_column(String(16), default="none")  # none | shadow | canary
    canary_percent: Mapped[float] = mapped_column(default=0.0)
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[str] = mapped_column(String(32), default="")
    gate: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deploy_result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    phases: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_sha256: Mapped[str] = mapped_column(String(64), default="")
    base_model_hash: Mapped[str] = mapped_column(String(200), default="")
    code_version: Mapped[str] = mapped_column(String(64), default="")
    seed: Mapped[int] = mapped_column(Integer, default=13)
    device: Mapped[str] = mapped_column(String(32), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    worker_pid: Mapped[int | None] = mapped_column(Integer, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resumed_from_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TrainingJobEvent(Base):
    """A state change, progress point or log line of a job, in order (``seq`` per job). Never message text."""

    __tablename__ = "training_job_events"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_training_job_events_job_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # state | progress | log
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- end of training jobs ------------------------------------------------------------------------------------


# --- leads (issue #5: customers, leads, stage history, outcomes, stored predictions) -------------------------
# External ids are the CRM's, unique per tenant; ``interactions.lead_id`` / ``customer_id`` hold the same strings.


class Customer(Base):
    """A CRM customer (account or person). ``fields`` holds the CRM's custom fields, never raw PII by contract."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id", name="uq_customers_tenant_external"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Lead(Base):
    """A sales opportunity with one customer: stage, owner, custom fields (scoring features) and last rep touch."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id", name="uq_leads_tenant_external"),
        Index("ix_leads_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str] = mapped_column(String(200), default="")  # the customer's external id
    stage: Mapped[str] = mapped_column(String(64), default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_touch_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LeadStageChange(Base):
    """One move of a lead from a stage to another (the first row has ``from_stage`` "")."""

    __tablename__ = "lead_stage_changes"
    __table_args__ = (Index("ix_lead_stage_changes_lead_time", "lead_id", "changed_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    from_stage: Mapped[str] = mapped_column(String(64), default="")
    to_stage: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200), default="")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadOutcome(Base):
    """How a lead ended (won / lost) or progressed (converted), and when; a lead may convert, then win."""

    __tablename__ = "lead_outcomes"
    __table_args__ = (UniqueConstraint("lead_id", "outcome", name="uq_lead_outcomes_lead_outcome"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(16))  # won | lost | converted
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InteractionPrediction(Base):
    """A classifier's answer (label, calibrated confidence, evidence spans) for a stored interaction."""

    __tablename__ = "interaction_predictions"
    __table_args__ = (
        UniqueConstraint("interaction_id", "task", "model_version", name="uq_interaction_predictions_version"),
        Index("ix_interaction_predictions_tenant_time", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column()
    model_version: Mapped[str] = mapped_column(String(64), default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # [{start, end, text, weight}] of redacted text
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- end of leads --------------------------------------------------------------------------------------------
