"""suggestions, rep feedback and the delivery log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suggestions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_suggestions_tenant_lead", "suggestions", ["tenant_id", "lead_id", "created_at"], unique=False)

    op.create_table(
        "suggestion_feedback",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("suggestion_id", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("edited_text", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["suggestion_id"], ["suggestions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_suggestion_feedback_tenant_time", "suggestion_feedback", ["tenant_id", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_suggestion_feedback_suggestion_id"), "suggestion_feedback", ["suggestion_id"], unique=False
    )

    op.create_table(
        "suggestion_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("suggestion_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_suggestion_deliveries_idempotency_key"),
    )
    op.create_index(
        "ix_suggestion_deliveries_tenant_time", "suggestion_deliveries", ["tenant_id", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_suggestion_deliveries_suggestion_id"), "suggestion_deliveries", ["suggestion_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_suggestion_deliveries_suggestion_id"), table_name="suggestion_deliveries")
    op.drop_index("ix_suggestion_deliveries_tenant_time", table_name="suggestion_deliveries")
    op.drop_table("suggestion_deliveries")
    op.drop_index(op.f("ix_suggestion_feedback_suggestion_id"), table_name="suggestion_feedback")
    op.drop_index("ix_suggestion_feedback_tenant_time", table_name="suggestion_feedback")
    op.drop_table("suggestion_feedback")
    op.drop_index("ix_suggestions_tenant_lead", table_name="suggestions")
    op.drop_table("suggestions")
