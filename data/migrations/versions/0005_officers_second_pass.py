"""Officers' service, second pass: when each unit's vacancies were last declared
(``units.vacancies_declared_at``, for stale vacancies), the stage a batch job is at (``batch_jobs.stage``) and the fratrie hold that spans several units (``reservations.bundle_id``:
every reservation of one all-or-nothing hold carries the id of the first).

A store already in use: its units count as declared when it is upgraded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("vacancies_declared_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE units SET vacancies_declared_at = CURRENT_TIMESTAMP")
    with op.batch_alter_table("reservations") as batch:
        batch.add_column(sa.Column("bundle_id", sa.String(length=40), nullable=True))
        batch.create_index(batch.f("ix_reservations_bundle_id"), ["bundle_id"], unique=False)
    with op.batch_alter_table("batch_jobs") as batch:
        batch.add_column(sa.Column("stage", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_jobs") as batch:
        batch.drop_column("stage")
    with op.batch_alter_table("reservations") as batch:
        batch.drop_index(batch.f("ix_reservations_bundle_id"))
        batch.drop_column("bundle_id")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("vacancies_declared_at")
