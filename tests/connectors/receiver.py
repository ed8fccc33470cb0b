"""A real local webhook receiver: verifies signatures on its own, fails on cue, counts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Hit:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What an integrator writes: HMAC-SHA256 over "<timestamp>.<body>", fresh timestamp."""
    timestamp = headers.get("X-Tawasul-Timestamp", "")
    given = headers.get("X-Tawasul-Signature", "")
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest("sha256=" + mac.hexdigest(), given)


@dataclass
class Receiver:
    """Answers each path with the scripted statuses first, then 200 (401 if unsigned)."""

    secrets: dict[str, str] = field(default_factory=dict)
    script: dict[str, list[int]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    # path -> seconds to stall the next answers (a slow subscriber)
    stalls: dict[str, list[float]] = field(default_factory=dict)
    arrived: list[str] = field(default_factory=list)
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        """The aiohttp application to serve on 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/{path}", self._handle)
        return app

    def fail(self, path: str, *statuses: int) -> None:
        """Answer the next requests on ``path`` with these statuses."""
        self.script.setdefault(path, []).extend(statuses)

    def ok(self, path: str) -> list[Hit]:
        """Requests on ``path`` that were verified and answered 200."""
        return [h for h in self.hits if h.path == path and h.status == 200]

    def on(self, path: str) -> list[Hit]:
        """Every request on ``path``."""
        return [h for h in self.hits if h.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.read()
        self.arrived.append(path)
        if self.stalls.get(path):
            await asyncio.sleep(self.stalls[path].pop(0))
        headers = dict(request.headers)
        verified = verify_signature(self.secrets.get(path, ""), headers, body)
        queued = self.script.get(path)
        status = 401 if not verified else (queued.pop(0) if queued else 200)
        self.hits.append(Hit(path, headers, body, verified, status))
        if status != 200:
            return web.json_response({"error": "scripted failure"}, status=status)
        return web.json_response({"message_id": f"peer-{next(self._ids)}"})
