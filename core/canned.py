"""Canned responses: saved replies with a shortcut and ``{{variables}}``."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Sessions, in_transaction
from core.errors import Invalid, NotFound
from core.inbox_tables import CannedResponse

SHORTCUT = re.compile(r"^[a-z0-9_-]{2,40}$")
_VARIABLE = re.compile(r"{{\s*([a-z_]+)\.([a-z_]+)\s*}}")


def canned_dict(c: CannedResponse) -> dict[str, Any]:
    """A canned response as agents see it."""
    return {
        "id": c.id,
        "shortcut": c.shortcut,
        "title": c.title,
        "text": c.text,
        "language": c.language,
        "created_by": c.created_by,
        "created_at": c.created_at.isoformat() if c.created_at else None,
    }


def render(template: str, values: dict[str, dict[str, Any]]) -> str:
    """Fill ``{{customer.name}}``-style variables; unknown ones are left as written."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1), {}).get(match.group(2))
        return str(value) if value not in (None, "") else match.group(0)

    return _VARIABLE.sub(fill, template)


async def do_save_canned(
    sessions: Sessions,
    shortcut: str,
    title: str,
    text: str,
    *,
    language: str | None = None,
    agent_id: int | None = None,
) -> CannedResponse:
    """Create a canned response, or replace the one with the same shortcut."""
    shortcut = shortcut.strip().lstrip("/").lower()
    if not SHORTCUT.match(shortcut):
        raise Invalid("a shortcut is 2–40 letters, digits, '-' or '_'", code="bad_shortcut")
    if not text.strip():
        raise Invalid("a canned response needs text")

    async def work(session: AsyncSession) -> CannedResponse:
        found = (
            await session.execute(select(CannedResponse).where(CannedResponse.shortcut == shortcut))
        ).scalar_one_or_none()
        canned = found or CannedResponse(shortcut=shortcut, created_by=agent_id)
        canned.title, canned.text, canned.language = title, text, language
        session.add(canned)
        await session.flush()
        return canned

    return await in_transaction(sessions, work)


async def do_delete_canned(sessions: Sessions, canned_id: int) -> None:
    """Delete a canned response."""

    async def work(session: AsyncSession) -> None:
        result = await session.execute(delete(CannedResponse).where(CannedResponse.id == canned_id))
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"canned response {canned_id} does not exist")

    await in_transaction(sessions, work)
