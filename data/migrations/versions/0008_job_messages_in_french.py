"""A batch job's progress message and error in French beside the English ones
(``batch_jobs.message_fr``, ``batch_jobs.error_fr``): the jobs page and the API say them in the
reader's language; a job written before this migration has none and is said in English.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 20:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_jobs") as batch:
        batch.add_column(sa.Column("message_fr", sa.Text(), nullable=True))
        batch.add_column(sa.Column("error_fr", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_jobs") as batch:
        batch.drop_column("error_fr")
        batch.drop_column("message_fr")
