"""Typed application state keys."""

from __future__ import annotations

import weakref

from aiohttp import ClientSession, web
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.registry import Connectors
from core.files import FileStore
from core.models import Agent
from core.runtime import Runtime
from core.settings import Settings
from inbox.throttle import LoginThrottle

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
RUNTIME = web.AppKey("runtime", Runtime)
CONNECTORS = web.AppKey("connectors", Connectors)
HTTP = web.AppKey("http", ClientSession)
FILES: web.AppKey[FileStore] = web.AppKey("files")
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
SOCKETS = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])

AGENT = web.RequestKey("agent", Agent)
IS_BOT = web.RequestKey("bot", bool)
SOCKET_AGENT = web.ResponseKey("agent", Agent)
SOCKET_SESSION = web.ResponseKey("session_id", int)
