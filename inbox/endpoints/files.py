"""Agents' files: upload one to attach to a reply, download any stored file."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote, urlsplit

from aiohttp import BodyPartReader, web

from core.errors import NotFound
from core.files import (
    ALLOWED_TYPES,
    FileMissing,
    FileTooLarge,
    download_headers,
    parse_key,
    served_type,
)
from core.models import Message
from core.types import Attachment
from inbox.api import api
from inbox.errors import http_error
from inbox.keys import CONNECTORS, FILES, RUNTIME

UPLOAD_FORM = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    }
}


def _same_origin(request: web.Request) -> None:
    """Refuse a cookie-authenticated upload posted from another site."""
    # A form on any site can post multipart (unlike our JSON bodies, which need a preflight).
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise http_error(web.HTTPForbidden, "cross_site", "uploads must come from the inbox")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise http_error(web.HTTPForbidden, "cross_site", "uploads must come from the inbox")


def _filename(given: str | None) -> str | None:
    """The part's file name; some clients (aiohttp's own) percent-encode non-ASCII names."""
    if given and given.isascii() and re.search(r"%[0-9A-Fa-f]{2}", given):
        with contextlib.suppress(UnicodeDecodeError):
            return unquote(given, errors="strict")
    return given


@api.route("GET", "/uploads/limits", tag="files")
async def upload_limits(request: web.Request) -> web.Response:
    """The size cap and the content types an upload may have."""
    return web.json_response(
        {"max_bytes": request.app[FILES].max_bytes, "content_types": sorted(ALLOWED_TYPES)}
    )


@api.route("POST", "/uploads", tag="files", status=201, content=UPLOAD_FORM)
async def upload(request: web.Request) -> web.Response:
    """Upload one file (multipart field ``file``) to attach to a reply."""
    _same_origin(request)
    store = request.app[FILES]
    if not request.content_type.startswith("multipart/"):
        raise http_error(
            web.HTTPUnsupportedMediaType, "unsupported_media_type", "send multipart/form-data"
        )
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            raise http_error(web.HTTPBadRequest, "no_file", "the form has no field named file")
        if isinstance(part, BodyPartReader) and part.name == "file":
            break
        await part.release()
    # Read at most one byte past the cap, so an oversized upload is refused without
    # holding all of it (the app-wide body limit does not apply to a streamed part).
    data = bytearray()
    while chunk := await part.read_chunk(65536):
        data.extend(chunk)
        if len(data) > store.max_bytes:
            raise FileTooLarge(f"the file is larger than the limit of {store.max_bytes} bytes")
    claimed = part.headers.get("Content-Type")
    stored = await store.put(bytes(data), _filename(part.filename), claimed)
    return web.json_response(
        {
            "id": stored.id,
            "key": stored.key,
            "name": stored.name,
            "size": stored.size,
            "content_type": stored.content_type,
        },
        status=201,
    )


async def _read(request: web.Request, key: str) -> bytes:
    """The bytes under a key: agents' uploads, else inbound files a channel keeps (email)."""
    try:
        return await request.app[FILES].open(key)
    except FileMissing:
        for connector in request.app[CONNECTORS].by_name.values():
            opener = getattr(connector, "open_file", None)
            if opener is None:
                continue
            try:
                data: bytes = await opener(key)
            except FileMissing:
                continue
            return data
        raise


@api.route("GET", "/files/{key}", tag="files")
async def download(request: web.Request) -> web.StreamResponse:
    """Download a stored file (``?name=`` names it; ``?inline=1`` previews raster images)."""
    key = parse_key(request.match_info["key"])
    data = await _read(request, key)
    name = request.query.get("name") or key[:16]
    content_type = served_type(data, name)
    headers = download_headers(name, content_type, inline=request.query.get("inline") == "1")
    return web.Response(body=data, headers=headers)


@api.route("GET", "/messages/{message_id}/files/{index}", tag="files")
async def message_file(request: web.Request) -> web.StreamResponse:
    """Download a file a customer sent that its channel keeps (a Telegram photo or document)."""
    try:
        message_id, index = int(request.match_info["message_id"]), int(request.match_info["index"])
    except ValueError as exc:
        raise NotFound("no such file") from exc
    async with request.app[RUNTIME].sessions() as session:
        message = await session.get(Message, message_id)
    files = (message.attachments or []) if message is not None else []
    if message is None or not 0 <= index < len(files):
        raise NotFound("no such file")
    attachment = Attachment(**files[index])
    connector = request.app[CONNECTORS].by_name.get(message.channel or "")
    opener = getattr(connector, "open_attachment", None)
    if attachment.key is not None:
        data = await _read(request, attachment.key)
    elif opener is not None:
        data = await opener(attachment)
    else:
        raise NotFound(f"the {message.channel} channel does not keep this file")
    name = attachment.name or f"{attachment.kind}-{message_id}-{index}"
    content_type = served_type(data, name)
    headers = download_headers(name, content_type, inline=request.query.get("inline") == "1")
    return web.Response(body=data, headers=headers)
