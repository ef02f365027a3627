"""suggestion audience: enough to rebuild a stored suggestion and re-deliver it after a channel outage

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        batch.add_column(sa.Column("audience", sa.String(length=16), nullable=False, server_default="customer"))


def downgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        batch.drop_column("audience")
