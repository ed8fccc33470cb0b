"""API endpoint modules; importing them registers their routes on `inbox.api.api`."""

from inbox.endpoints import (
    agents,
    auth,
    canned,
    conversations,
    csat,
    customers,
    files,
    meta,
    metrics,
    orders,
    presence,
    search,
    supervision,
    teams,
    webhooks,
)

__all__ = [
    "agents",
    "auth",
    "canned",
    "conversations",
    "csat",
    "customers",
    "files",
    "meta",
    "metrics",
    "orders",
    "presence",
    "search",
    "supervision",
    "teams",
    "webhooks",
]
