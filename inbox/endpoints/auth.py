"""Log in and out."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from core.accounts import do_login, do_logout
from core.serialize import agent_dict
from inbox.api import PUBLIC, api, current_agent
from inbox.auth import COOKIE, request_token
from inbox.errors import http_error
from inbox.keys import RUNTIME, SETTINGS
from inbox.schemas import LoginBody


@api.route("POST", "/auth/login", role=PUBLIC, tag="auth")
async def login(request: web.Request, body: LoginBody) -> web.Response:
    """Log in; sets an HttpOnly session cookie and returns the token for API clients."""
    settings = request.app[SETTINGS]
    ttl = timedelta(hours=settings.session_ttl_hours)
    result = await do_login(request.app[RUNTIME].sessions, body.login, body.password, ttl)
    if result is None:
        raise http_error(web.HTTPUnauthorized, "bad_credentials", "wrong login or password")
    agent, token = result
    response = web.json_response({"token": token, "agent": agent_dict(agent)})
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=settings.public_url.startswith("https://"),
        max_age=int(ttl.total_seconds()),
        path="/",
    )
    return response


@api.route("POST", "/auth/logout", tag="auth")
async def logout(request: web.Request) -> web.Response:
    """End this session."""
    token = request_token(request)
    if token:
        await do_logout(request.app[RUNTIME].sessions, token)
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


@api.route("GET", "/me", tag="auth")
async def me(request: web.Request) -> web.Response:
    """The logged-in agent."""
    return web.json_response(agent_dict(current_agent(request)))
