"""Who is calling: a session cookie or bearer token for agents, a bearer token for the bot."""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler

from core.accounts import agent_for_token
from inbox.keys import AGENT, IS_BOT, RUNTIME, SETTINGS

COOKIE = "tawasul_session"


def request_token(request: web.Request) -> str | None:
    """The session token from the Authorization header, the cookie or (WebSocket) the query."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the calling agent or mark the bot; endpoints decide what they need."""
    token = request_token(request)
    if token and request.path.startswith("/api/"):
        bot_token = request.app[SETTINGS].bot_token
        if bot_token is not None and hmac.compare_digest(
            token.encode(), bot_token.get_secret_value().encode()
        ):
            request[IS_BOT] = True
        else:
            agent = await agent_for_token(request.app[RUNTIME].sessions, token)
            if agent is not None:
                request[AGENT] = agent
    return await handler(request)
