"""case_notes: the child's and the parents' views, a placement's purpose and follow-ups held

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("with_whom", sa.String(length=200), nullable=False),
        sa.Column("child_heard", sa.Boolean(), nullable=True),
        sa.Column("placement_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_case_notes_child_id"), "case_notes", ["child_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_notes_child_id"), table_name="case_notes")
    op.drop_table("case_notes")
