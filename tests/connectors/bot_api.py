"""A local stand-in for the Telegram Bot API: real JSON shapes, scripted failures, a record."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAH-test-token-for-the-stand-in"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Tawasul",
    "username": "tawasul_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    """One request the stand-in answered."""

    method: str
    params: dict[str, Any]
    at: float
    status: int


@dataclass
class BotApi:
    """getMe, getUpdates, set/deleteWebhook, sendMessage, sendChatAction, sendDocument, sendPhoto
    and getFile; uploads arrive as multipart and are kept in ``files``."""

    token: str = TOKEN
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    # method -> answers to give before behaving: (HTTP status, Bot API error body)
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # method -> successful calls to allow before the queued failures apply
    fail_after: dict[str, int] = field(default_factory=dict)
    long_poll_cap: float = 0.3
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        """The aiohttp application to serve on 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        return app

    def fail(self, method: str, status: int, description: str, **parameters: Any) -> None:
        """Make the next call of ``method`` fail the way Telegram does."""
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        self.failures.setdefault(method, []).append((status, body))

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        self.updates.append(update)
        self._new_update.set()

    def sent(self, method: str = "sendMessage") -> list[Call]:
        """Successful calls of a sending method."""
        return [c for c in self.calls if c.method == method and c.status == 200]

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            else:  # an uploaded file
                params[key] = {"filename": value.filename, "bytes": value.file.read()}
        return params

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if request.match_info["token"] != self.token:
            return self._answer(method, params, 401, self._error(401, "Unauthorized"))
        queued = self.failures.get(method)
        if self.fail_after.get(method, 0) > 0:
            self.fail_after[method] -= 1
        elif queued:
            status, body = queued.pop(0)
            return self._answer(method, params, status, body)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return self._answer(method, params, 404, self._error(404, "Not Found"))
        result = await handler(params)
        return self._answer(method, params, 200, {"ok": True, "result": result})

    def _answer(
        self, method: str, params: dict[str, Any], status: int, body: dict[str, Any]
    ) -> web.Response:
        self.calls.append(Call(method, params, time.monotonic(), status))
        return web.json_response(body, status=status)

    @staticmethod
    def _error(code: int, description: str) -> dict[str, Any]:
        return {"ok": False, "error_code": code, "description": description}

    async def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        return True

    async def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._new_update.clear()
            wait = min(float(params.get("timeout") or 0), self.long_poll_cap)
            try:
                await asyncio.wait_for(self._new_update.wait(), wait)
            except TimeoutError:
                return []
        return list(self.updates)

    def _message(self, chat_id: str, **content: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "from": BOT_USER,
            "chat": {"id": int(chat_id), "type": "private", "first_name": "Customer"},
            "date": int(time.time()),
            **content,
        }
        return message

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if reply := params.get("reply_parameters"):
            reply_params = json.loads(reply) if isinstance(reply, str) else reply
            extra["reply_to_message"] = {
                "message_id": reply_params["message_id"],
                "chat": {"id": int(params["chat_id"]), "type": "private", "first_name": "C"},
                "date": int(time.time()),
            }
        return self._message(params["chat_id"], text=params["text"], **extra)

    async def _sendChatAction(self, params: dict[str, Any]) -> bool:
        return params.get("action") in ("typing", "upload_document")

    async def _sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = params["document"]
        if isinstance(doc, dict):  # uploaded bytes
            file_id = f"BQAC-upload-{len(self.files)}"
            self.files[file_id] = doc["bytes"]
            name = doc["filename"]
        else:
            file_id, name = str(doc), str(doc).rsplit("/", 1)[-1]
        document = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": name,
            "mime_type": "application/octet-stream",
            "file_size": len(self.files.get(file_id, b"")),
        }
        extra = {"caption": params["caption"]} if params.get("caption") else {}
        return self._message(params["chat_id"], document=document, **extra)

    async def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = params["photo"]
        if isinstance(photo, dict):  # uploaded bytes
            file_id = f"AgAC-upload-{len(self.files)}"
            self.files[file_id] = photo["bytes"]
        else:
            file_id = str(photo)
        size = len(self.files.get(file_id, b""))
        sizes = [{"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 1,
                  "height": 1, "file_size": size}]  # fmt: skip
        extra = {"caption": params["caption"]} if params.get("caption") else {}
        return self._message(params["chat_id"], photo=sizes, **extra)

    async def _getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params["file_id"]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(self.files.get(file_id, b"")),
            "file_path": f"documents/{file_id}",
        }

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self.files:
            raise web.HTTPNotFound()
        return web.Response(body=self.files[file_id])
