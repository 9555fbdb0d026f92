"""placements: where each child lives or lived

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "placements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("option_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=False),
        sa.Column("last_follow_up", sa.Date(), nullable=True),
        sa.Column("reservation_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["children.child_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_placements_child_id"), "placements", ["child_id"], unique=False)
    op.create_index(op.f("ix_placements_status"), "placements", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_placements_status"), table_name="placements")
    op.drop_index(op.f("ix_placements_child_id"), table_name="placements")
    op.drop_table("placements")
