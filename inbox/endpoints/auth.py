"""Log in and out."""

from __future__ import annotations

import math
from datetime import timedelta

from aiohttp import web

from core.accounts import do_change_password, do_login, do_logout
from core.serialize import agent_dict
from inbox.api import PUBLIC, api, current_agent
from inbox.auth import COOKIE, request_token
from inbox.errors import http_error
from inbox.keys import LOGIN_THROTTLE, RUNTIME, SETTINGS
from inbox.schemas import LoginBody, PasswordChangeBody


@api.route("POST", "/auth/login", role=PUBLIC, tag="auth")
async def login(request: web.Request, body: LoginBody) -> web.Response:
    """Log in; sets an HttpOnly session cookie and returns the token for API clients."""
    settings = request.app[SETTINGS]
    throttle = request.app[LOGIN_THROTTLE]
    address = request.remote or "unknown"
    # Checked before the password, so a locked-out guesser learns nothing more.
    if (wait := throttle.retry_after(body.login, address)) is not None:
        refused = http_error(
            web.HTTPTooManyRequests,
            "too_many_attempts",
            f"too many failed logins; try again in {math.ceil(wait / 60)} minutes",
            retry_after=wait,
        )
        refused.headers["Retry-After"] = str(wait)
        raise refused
    ttl = timedelta(hours=settings.session_ttl_hours)
    result = await do_login(request.app[RUNTIME].sessions, body.login, body.password, ttl)
    if result is None:
        throttle.failed(body.login, address)
        raise http_error(web.HTTPUnauthorized, "bad_credentials", "wrong login or password")
    throttle.succeeded(body.login, address)
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
        await do_logout(request.app[RUNTIME], token)
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


@api.route("GET", "/me", tag="auth")
async def me(request: web.Request) -> web.Response:
    """The logged-in agent."""
    return web.json_response(agent_dict(current_agent(request)))


@api.route("POST", "/me/password", tag="auth")
async def change_password(request: web.Request, body: PasswordChangeBody) -> web.Response:
    """Change my password (the current one is required); my other sessions end."""
    agent = current_agent(request)
    await do_change_password(
        request.app[RUNTIME],
        agent.id,
        body.current_password,
        body.new_password,
        keep_token=request_token(request),
    )
    return web.json_response({"ok": True})
