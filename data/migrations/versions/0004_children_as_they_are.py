"""Children as they are: a child may have no family home (``children.home_id`` empty, and
``home_absence`` says why: unknown, abroad or none), a current school or training place and a
supervised-visit site (id, point, commune, département each), the judge's order of supervised
visits, and a young mother's number of children living with her; ``structures.operator``
widened to 32 characters for "other_departement". Stores written before read
as before: every child with a home, no school, no visit site, no order; ``own_children`` 0
(the loader makes it 1 where a youngest child's birth date is known).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PLACES = ("school", "visit_site")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    # SQLite rebuilds the children table to drop NOT NULL: run through Database.migrate, which
    # turns foreign keys off for the rebuild and checks them all before the commit. SQLite does
    # not enforce VARCHAR lengths, so the operator column needs no rebuild there.
    if not _sqlite():
        with op.batch_alter_table("structures") as batch:
            batch.alter_column("operator", existing_type=sa.String(length=16), type_=sa.String(length=32))
    with op.batch_alter_table("children") as batch:
        batch.alter_column("home_id", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column("home_absence", sa.String(length=16), nullable=True))
        for prefix in _PLACES:
            batch.add_column(sa.Column(f"{prefix}_id", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column(f"{prefix}_lat", sa.Float(), nullable=True))
            batch.add_column(sa.Column(f"{prefix}_lon", sa.Float(), nullable=True))
            batch.add_column(sa.Column(f"{prefix}_commune", sa.String(length=10), nullable=True))
            batch.add_column(sa.Column(f"{prefix}_departement", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("judge_supervised_visits", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("own_children", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # Children without a home cannot go back to a schema where every child has one: refuse
    # rather than lose them.
    bind = op.get_bind()
    missing = bind.execute(sa.text("SELECT COUNT(*) FROM children WHERE home_id IS NULL")).scalar()
    if missing:
        raise RuntimeError(f"{missing} children have no family home: the store cannot go back below revision 0004")
    other = bind.execute(sa.text("SELECT COUNT(*) FROM structures WHERE operator = 'other_departement'")).scalar()
    if other:
        raise RuntimeError(f"{other} structures are run by another département: the store cannot go back below revision 0004")
    with op.batch_alter_table("children") as batch:
        batch.drop_column("own_children")
        batch.drop_column("judge_supervised_visits")
        for prefix in reversed(_PLACES):
            for column in ("departement", "commune", "lon", "lat", "id"):
                batch.drop_column(f"{prefix}_{column}")
        batch.drop_column("home_absence")
        batch.alter_column("home_id", existing_type=sa.String(length=64), nullable=False)
    if not _sqlite():
        with op.batch_alter_table("structures") as batch:
            batch.alter_column("operator", existing_type=sa.String(length=32), type_=sa.String(length=16))
