"""CSAT: a channel or the bot records the customer's rating of a conversation."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from core.csat import csat_dict, do_record_csat
from inbox.api import BOT, api
from inbox.endpoints.conversations import conversation_id
from inbox.keys import RUNTIME
from inbox.schemas import Strict


class CsatBody(Strict):
    """A 1–5 rating, with the customer's words if any."""

    score: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
    channel: Annotated[str, StringConstraints(max_length=32)] | None = None


@api.route("POST", "/conversations/{conversation_id}/csat", role=BOT, tag="csat", status=201)
async def record_csat(request: web.Request, body: CsatBody) -> web.Response:
    """Record the customer's satisfaction score (bot token or agent)."""
    rating = await do_record_csat(
        request.app[RUNTIME],
        conversation_id(request),
        body.score,
        comment=body.comment,
        channel=body.channel,
    )
    return web.json_response(csat_dict(rating), status=201)
