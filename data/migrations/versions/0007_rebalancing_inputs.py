"""What batch rebalancing reads of each child: the judge's placement away from the family on
purpose (``children.judge_placed_away``: never a candidate) and the child's own stated wish
(``children.wish``: none, closer or stay).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("children") as batch:
        batch.add_column(sa.Column("judge_placed_away", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("wish", sa.String(length=16), nullable=False, server_default="none"))


def downgrade() -> None:
    with op.batch_alter_table("children") as batch:
        batch.drop_column("wish")
        batch.drop_column("judge_placed_away")
