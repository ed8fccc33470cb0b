"""metrics: customer messages with a sentiment label by time; merges' merged_into lines

Revision ID: 685b9fa00107
Revises: 7c1e5a9d3b42
Create Date: 2026-12-02 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "685b9fa00107"
down_revision: str | None = "7c1e5a9d3b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOOD = "kind = 'incoming' AND sentiment_label IS NOT NULL"
MERGED_PG = "kind = 'activity' AND (meta ->> 'action') = 'merged_into'"
MERGED_SQLITE = "kind = 'activity' AND json_extract(meta, '$.action') = 'merged_into'"


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_mood",
            ["created_at", "conversation_id", "sentiment_label"],
            unique=False,
            sqlite_where=sa.text(MOOD),
            postgresql_where=sa.text(MOOD),
        )
        batch_op.create_index(
            "ix_messages_merged_into",
            ["conversation_id"],
            unique=False,
            sqlite_where=sa.text(MERGED_SQLITE),
            postgresql_where=sa.text(MERGED_PG),
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_messages_merged_into",
            sqlite_where=sa.text(MERGED_SQLITE),
            postgresql_where=sa.text(MERGED_PG),
        )
        batch_op.drop_index(
            "ix_messages_mood",
            sqlite_where=sa.text(MOOD),
            postgresql_where=sa.text(MOOD),
        )
