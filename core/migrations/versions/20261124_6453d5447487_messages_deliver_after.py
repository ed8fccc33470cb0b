"""messages deliver_after

Revision ID: 6453d5447487
Revises: cc2ecabdb4ab
Create Date: 2026-11-24 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6453d5447487"
down_revision: str | None = "cc2ecabdb4ab"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deliver_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("deliver_after")
