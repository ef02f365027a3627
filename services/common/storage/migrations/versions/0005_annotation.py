"""annotation workbench: projects, items, annotations, comments, resolutions, snapshots

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotation_projects",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("overlap", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("feedback_pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_annotation_projects_tenant_name"),
    )
    op.create_table(
        "annotation_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("interaction_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("prediction_label", sa.String(length=200), nullable=False),
        sa.Column("prediction_confidence", sa.Double(), nullable=True),
        sa.Column("queue_key", sa.Double(), nullable=False),
        sa.Column("annotation_count", sa.Integer(), nullable=False),
        sa.Column("gold", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["annotation_projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "content_hash", name="uq_annotation_items_project_hash"),
    )
    op.create_index(
        "ix_annotation_items_tenant_customer", "annotation_items", ["tenant_id", "customer_id"], unique=False
    )
    op.create_index(
        "ix_annotation_items_queue",
        "annotation_items",
        ["project_id", "queue_key", "seq", "annotation_count"],
        unique=False,
    )
    op.create_table(
        "annotation_snapshots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("label_counts", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["annotation_projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "version", name="uq_annotation_snapshots_project_version"),
    )
    op.create_index(op.f("ix_annotation_snapshots_tenant_id"), "annotation_snapshots", ["tenant_id"], unique=False)
    op.create_table(
        "annotation_comments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["annotation_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_annotation_comments_item_id"), "annotation_comments", ["item_id"], unique=False)
    op.create_table(
        "annotation_resolutions",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("spans", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["annotation_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["annotation_projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index(
        op.f("ix_annotation_resolutions_project_id"), "annotation_resolutions", ["project_id"], unique=False
    )
    op.create_table(
        "annotations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("labeller", sa.String(length=200), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("spans", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["annotation_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["annotation_projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "labeller", name="uq_annotations_item_labeller"),
    )
    op.create_index(
        "ix_annotations_project_labeller", "annotations", ["project_id", "labeller", "updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_annotations_project_labeller", table_name="annotations")
    op.drop_table("annotations")
    op.drop_index(op.f("ix_annotation_resolutions_project_id"), table_name="annotation_resolutions")
    op.drop_table("annotation_resolutions")
    op.drop_index(op.f("ix_annotation_comments_item_id"), table_name="annotation_comments")
    op.drop_table("annotation_comments")
    op.drop_index(op.f("ix_annotation_snapshots_tenant_id"), table_name="annotation_snapshots")
    op.drop_table("annotation_snapshots")
    op.drop_index("ix_annotation_items_queue", table_name="annotation_items")
    op.drop_index("ix_annotation_items_tenant_customer", table_name="annotation_items")
    op.drop_table("annotation_items")
    op.drop_table("annotation_projects")
