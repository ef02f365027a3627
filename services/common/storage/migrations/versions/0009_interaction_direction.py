"""interaction direction: inbound (from the customer) or outbound (from the rep); existing rows are inbound

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 18:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("direction", sa.String(length=8), nullable=False, server_default="inbound"))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("direction")
