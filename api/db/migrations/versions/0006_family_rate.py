"""families.monthly_rate: a family's own monthly fee (vederlag plus tillæg), for costs only

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("families") as batch:
        batch.add_column(sa.Column("monthly_rate", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("families") as batch:
        batch.drop_column("monthly_rate")
