"""Canned responses: list (rendered for a conversation), save, delete."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints
from sqlalchemy import select

from core.canned import canned_dict, do_delete_canned, do_save_canned, render
from core.errors import NotFound
from core.inbox_tables import CannedResponse
from core.models import Conversation, Customer
from core.types import Role
from inbox.api import api, current_agent
from inbox.keys import RUNTIME
from inbox.schemas import Strict, Text


class CannedQuery(Strict):
    """Optionally fill the variables for one conversation."""

    conversation_id: int | None = None


class CannedBody(Strict):
    """A canned response to save."""

    shortcut: Annotated[str, StringConstraints(strip_whitespace=True, max_length=41)]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    text: Text
    language: Annotated[str, StringConstraints(max_length=16)] | None = Field(default=None)


@api.route("GET", "/canned-responses", tag="canned")
async def list_canned(request: web.Request, query: CannedQuery) -> web.Response:
    """Every canned response; with ``conversation_id`` each carries its filled-in ``rendered``."""
    agent = current_agent(request)
    async with request.app[RUNTIME].sessions() as session:
        rows = (
            (await session.execute(select(CannedResponse).order_by(CannedResponse.shortcut)))
            .scalars()
            .all()
        )
        values: dict[str, dict[str, Any]] = {
            "agent": {"name": agent.display_name},
        }
        if query.conversation_id is not None:
            conv = await session.get(Conversation, query.conversation_id)
            if conv is None:
                raise NotFound(f"conversation {query.conversation_id} does not exist")
            customer = await session.get(Customer, conv.customer_id)
            assert customer is not None
            values["customer"] = {
                "name": customer.display_name,
                "email": customer.email,
                "phone": customer.phone,
            }
            values["conversation"] = {"id": conv.id}
    items = []
    for row in rows:
        item = canned_dict(row)
        item["rendered"] = render(row.text, values)
        items.append(item)
    return web.json_response(items)


@api.route("POST", "/canned-responses", role=Role.SUPERVISOR, tag="canned", status=201)
async def save_canned(request: web.Request, body: CannedBody) -> web.Response:
    """Create or replace a canned response (supervisors)."""
    agent = current_agent(request)
    canned = await do_save_canned(
        request.app[RUNTIME].sessions,
        body.shortcut,
        body.title,
        body.text,
        language=body.language,
        agent_id=agent.id,
    )
    return web.json_response(canned_dict(canned), status=201)


@api.route("DELETE", "/canned-responses/{canned_id}", role=Role.SUPERVISOR, tag="canned")
async def delete_canned(request: web.Request) -> web.Response:
    """Delete a canned response (supervisors)."""
    try:
        canned_id = int(request.match_info["canned_id"])
    except ValueError as exc:
        raise NotFound("no such canned response") from exc
    await do_delete_canned(request.app[RUNTIME].sessions, canned_id)
    return web.json_response({"ok": True})
