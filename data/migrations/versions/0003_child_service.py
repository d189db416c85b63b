"""The service that follows each child (``children.service``: a territorial sector, the
unaccompanied minors', young adults' or mother-child service), for officers who act for the
children of their service. Empty in stores written before: the loader then decides it
(``matcher.model.service_of``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("children") as batch:
        batch.add_column(sa.Column("service", sa.String(length=32), nullable=True))
        batch.create_index(batch.f("ix_children_service"), ["service"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("children") as batch:
        batch.drop_index(batch.f("ix_children_service"))
        batch.drop_column("service")
