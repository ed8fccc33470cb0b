"""metrics indexes: conversations.created_at and messages' activity lines

Revision ID: e4ff144e261f
Revises: 6453d5447487
Create Date: 2026-12-01 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4ff144e261f"
down_revision: str | None = "6453d5447487"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_created_at"), ["created_at"], unique=False
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_activity_conversation",
            ["conversation_id"],
            unique=False,
            sqlite_where=sa.text("kind = 'activity'"),
            postgresql_where=sa.text("kind = 'activity'"),
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_messages_activity_conversation",
            sqlite_where=sa.text("kind = 'activity'"),
            postgresql_where=sa.text("kind = 'activity'"),
        )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_created_at"))
