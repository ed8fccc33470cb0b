"""Health and the API description."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from inbox.api import PUBLIC, api
from inbox.keys import RUNTIME


@api.route("GET", "/health", role=PUBLIC, tag="meta")
async def health(request: web.Request) -> web.Response:
    """Whether the database answers."""
    async with request.app[RUNTIME].sessions() as session:
        await session.execute(text("SELECT 1"))
    return web.json_response({"ok": True})


@api.route("GET", "/openapi.json", role=PUBLIC, tag="meta")
async def openapi(request: web.Request) -> web.Response:
    """This API's OpenAPI description."""
    return web.json_response(api.openapi("Tawasul", "1.0"))
