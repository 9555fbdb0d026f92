"""one decision per child, key lifecycle, idempotency fingerprints

- `live_holds`: one row per child while a hold of it is live; its primary key makes a second
  live hold of the same child (or of a sibling in the same hold) fail in the database.
- `ux_placements_active_child`: a partial unique index, at most one active placement per child.
- placements lose their cascading foreign key to children, so that a child who leaves the
  kommune's files keeps its placement history.
- api_keys: when and by whom a key was revoked, and which key created it.
- idempotency: the SHA-256 of the request body first answered under a key.
- children, network, families, institutions: `retired_on`, set by an import when a row with
  placement history leaves the kommune's files (kept for that history, out of matching).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'active'")
RETIRABLE = ("children", "network", "families", "institutions")


def upgrade() -> None:
    op.create_table(
        "live_holds",
        sa.Column("child_id", sa.String(length=64), nullable=False),
        sa.Column("reservation_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"]),
        sa.PrimaryKeyConstraint("child_id"),
    )
    op.create_index("ix_live_holds_reservation_id", "live_holds", ["reservation_id"])
    # Holds that were live before this migration get their rows, oldest first; a child's
    # later duplicate holds (the defect this closes) keep their places until they expire.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, child_ids FROM reservations WHERE status = 'held' ORDER BY created_at")
    ).all()
    seen: set[str] = set()
    for hold_id, child_ids in rows:
        for child_id in str(child_ids).split(";"):
            if child_id and child_id not in seen:
                seen.add(child_id)
                bind.execute(
                    sa.text("INSERT INTO live_holds (child_id, reservation_id) VALUES (:c, :r)"),
                    {"c": child_id, "r": hold_id},
                )

    if bind.dialect.name == "sqlite":
        _recreate_placements_without_child_key()
    else:
        op.drop_constraint("placements_child_id_fkey", "placements", type_="foreignkey")
    op.create_index(
        "ux_placements_active_child",
        "placements",
        ["child_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )

    for table in RETIRABLE:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("retired_on", sa.Date(), nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
    with op.batch_alter_table("idempotency") as batch:
        batch.add_column(
            sa.Column("body_hash", sa.String(length=64), nullable=False, server_default="")
        )


def _recreate_placements_without_child_key() -> None:
    """SQLite cannot drop a foreign key: copy the table into one without it."""
    op.create_table(
        "placements_new",
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
        sa.PrimaryKeyConstraint("id"),
    )
    columns = (
        "id, child_id, option_id, kind, start_date, status, end_date, end_reason, "
        "last_follow_up, reservation_id"
    )
    op.execute(f"INSERT INTO placements_new ({columns}) SELECT {columns} FROM placements")
    op.drop_index("ix_placements_status", table_name="placements")
    op.drop_index("ix_placements_child_id", table_name="placements")
    op.drop_table("placements")
    op.rename_table("placements_new", "placements")
    op.create_index("ix_placements_child_id", "placements", ["child_id"])
    op.create_index("ix_placements_status", "placements", ["status"])


def downgrade() -> None:
    for table in RETIRABLE:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("retired_on")
    with op.batch_alter_table("idempotency") as batch:
        batch.drop_column("body_hash")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("created_by")
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
    op.drop_index("ux_placements_active_child", table_name="placements")
    op.drop_index("ix_live_holds_reservation_id", table_name="live_holds")
    op.drop_table("live_holds")
