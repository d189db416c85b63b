"""Incremental refresh of the loaded system: ``meta.definitions_version`` (bumped only when the
system is replaced) and ``changed_version`` on units and children (the data version of a row's
last change of capacity, occupancy or current placement), indexed for "changed since v".

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meta", schema=None) as batch_op:
        batch_op.add_column(sa.Column("definitions_version", sa.Integer(), nullable=False, server_default="0"))
    # A store already in use: its present system counts as the first definitions.
    op.execute("UPDATE meta SET definitions_version = version")
    for table in ("units", "children"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("changed_version", sa.Integer(), nullable=False, server_default="0"))
            batch_op.create_index(batch_op.f(f"ix_{table}_changed_version"), ["changed_version"], unique=False)


def downgrade() -> None:
    for table in ("children", "units"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_changed_version"))
            batch_op.drop_column("changed_version")
    with op.batch_alter_table("meta", schema=None) as batch_op:
        batch_op.drop_column("definitions_version")
