"""model traffic routes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_routes",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("stable", sa.String(length=32), nullable=False),
        sa.Column("canary", sa.String(length=32), nullable=False),
        sa.Column("canary_percent", sa.Double(), nullable=False),
        sa.Column("shadow", sa.String(length=32), nullable=False),
        sa.Column("previous", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "task"),
    )


def downgrade() -> None:
    op.drop_table("model_routes")
