"""customer erasure: customers.erased_at, orders kept without their customer

Revision ID: 7c1e5a9d3b42
Revises: e4ff144e261f
Create Date: 2026-12-05 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1e5a9d3b42"
down_revision: str | None = "e4ff144e261f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=ID, nullable=True)


def downgrade() -> None:
    """Revert (fails while an erased customer's order has no customer)."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=ID, nullable=False)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
