"""Uploads and downloads through the API, and replies that carry the uploaded files."""

from __future__ import annotations

import io
from typing import Any

from aiohttp import FormData

from core.types import Role
from inbox.keys import FILES
from tests.inbox.conftest import Client, eventually, login_as, memory

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Title (\xd9\x81) >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)


def form(data: bytes, name: str, content_type: str = "application/octet-stream") -> FormData:
    """A multipart body with one ``file`` field."""
    body = FormData()
    body.add_field("file", io.BytesIO(data), filename=name, content_type=content_type)
    return body


async def upload(
    client: Client, headers: dict[str, str], data: bytes, name: str, content_type: str
) -> Any:
    """Upload a file and return the response."""
    return await client.post(
        "/api/v1/uploads", data=form(data, name, content_type), headers=headers
    )


async def pending_conversation(client: Client, headers: dict[str, str]) -> int:
    """A conversation from an Arabic-speaking customer on the memory channel."""
    await memory(client).receive("cust-ar", "in-1", "أرسل لي الفاتورة لو سمحت", name="نورة")

    async def check() -> Any:
        resp = await client.get("/api/v1/conversations?status=pending", headers=headers)
        items = (await resp.json())["items"]
        return items[0]["id"] if items else None

    conversation: int = await eventually(check)
    return conversation


async def test_upload_answers_id_name_size_and_sniffed_type(client: Client) -> None:
    """An agent's upload is kept and described; the name keeps its Arabic letters."""
    headers = await login_as(client, "sara")
    resp = await upload(client, headers, PDF, "فاتورة\u202e.pdf", "application/pdf")
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["name"] == "فاتورة.pdf"
    assert (body["size"], body["content_type"]) == (len(PDF), "application/pdf")
    assert set(body) >= {"id", "name", "size", "content_type"}


async def test_upload_needs_a_login(client: Client) -> None:
    """Without a session nothing is stored."""
    resp = await upload(client, {}, PDF, "x.pdf", "application/pdf")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthenticated"


async def test_html_renamed_png_and_oversize_are_refused_with_reasons(client: Client) -> None:
    """A type mismatch is a 415 with a reason; a file over the cap is a 413."""
    headers = await login_as(client, "sara")
    resp = await upload(client, headers, b"<html><script>x()</script></html>", "a.png", "image/png")
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == "file_type_not_allowed"
    resp = await upload(client, headers, PDF, "photo.png", "image/png")
    assert resp.status == 415
    error = (await resp.json())["error"]
    assert error["code"] == "file_type_mismatch" and "application/pdf" in error["message"]
    cap = client.app[FILES].max_bytes
    resp = await upload(client, headers, PDF + bytes(cap), "big.pdf", "application/pdf")
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == "file_too_large"


async def test_cross_site_cookie_upload_is_refused(client: Client) -> None:
    """A form on another site cannot upload with the agent's cookie."""
    headers = await login_as(client, "sara")
    assert headers  # the login also set the session cookie, used below
    resp = await client.post(
        "/api/v1/uploads",
        data=form(PDF, "x.pdf", "application/pdf"),
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "cross_site"
    resp = await client.post(
        "/api/v1/uploads",
        data=form(PDF, "x.pdf", "application/pdf"),
        headers={"Origin": str(client.make_url("")).rstrip("/")},
    )
    assert resp.status == 201


async def test_download_needs_a_login_and_is_an_attachment_with_nosniff(client: Client) -> None:
    """Only agents download; the answer is a named attachment of the real type, never sniffed."""
    headers = await login_as(client, "sara")
    key = (await (await upload(client, headers, PDF, "فاتورة.pdf", "application/pdf")).json())[
        "key"
    ]
    client.session.cookie_jar.clear()
    assert (await client.get(f"/api/v1/files/{key}?name=x.pdf")).status == 401
    resp = await client.get(f"/api/v1/files/{key}?name=فاتورة.pdf", headers=headers)
    assert resp.status == 200
    assert await resp.read() == PDF
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    inline = await client.get(f"/api/v1/files/{key}?name=x.pdf&inline=1", headers=headers)
    assert inline.headers["Content-Disposition"].startswith("attachment;")
    assert (await client.get(f"/api/v1/files/{'0' * 64}", headers=headers)).status == 404
    assert (await client.get("/api/v1/files/..%2F..%2Fetc", headers=headers)).status == 404


async def test_raster_image_may_be_previewed_inline(client: Client) -> None:
    """A PNG asked for inline comes back inline, as image/png."""
    headers = await login_as(client, "sara")
    key = (await (await upload(client, headers, PNG, "صورة.png", "image/png")).json())["key"]
    resp = await client.get(f"/api/v1/files/{key}?name=صورة.png&inline=1", headers=headers)
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Disposition"].startswith("inline;")


async def test_reply_with_only_an_attachment_is_delivered_with_the_bytes(client: Client) -> None:
    """A reply may be a file alone; the memory channel receives the same bytes and name."""
    headers = await login_as(client, "sara")
    conv = await pending_conversation(client, headers)
    uploaded = await (await upload(client, headers, PDF, "فاتورة.pdf", "application/pdf")).json()
    resp = await client.post(
        f"/api/v1/conversations/{conv}/reply",
        json={"attachments": [uploaded["id"]]},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    message = await resp.json()
    assert message["text"] == ""
    (stored,) = message["attachments"]
    assert stored["name"] == "فاتورة.pdf" and stored["key"] == uploaded["key"]
    assert stored["mime_type"] == "application/pdf" and stored["size"] == len(PDF)
    files = await eventually(lambda: _files_sent(client, message["id"]))
    assert files == [("فاتورة.pdf", PDF)]

    async def sent() -> Any:
        body = await (await client.get(f"/api/v1/conversations/{conv}", headers=headers)).json()
        out = [m for m in body["messages"] if m["id"] == message["id"]]
        return out[0] if out[0]["delivery_status"] == "sent" else None

    assert (await eventually(sent))["attachments"][0]["name"] == "فاتورة.pdf"


async def _files_sent(client: Client, message_id: int) -> list[tuple[str, bytes]] | None:
    return memory(client).files_sent.get(message_id)


async def test_reply_with_text_and_files_and_unknown_upload(client: Client) -> None:
    """Text and two files go out together; an unknown upload id is refused, nothing stored."""
    headers = await login_as(client, "sara", Role.AGENT)
    conv = await pending_conversation(client, headers)
    a = await (await upload(client, headers, PDF, "a.pdf", "application/pdf")).json()
    b = await (await upload(client, headers, PNG, "b.png", "image/png")).json()
    resp = await client.post(
        f"/api/v1/conversations/{conv}/reply",
        json={"text": "تفضلي الفاتورة والصورة", "attachments": [a["id"], b["id"]]},
        headers=headers,
    )
    assert resp.status == 201
    mid = (await resp.json())["id"]
    files = await eventually(lambda: _files_sent(client, mid))
    assert files == [("a.pdf", PDF), ("b.png", PNG)]
    resp = await client.post(
        f"/api/v1/conversations/{conv}/reply",
        json={"text": "", "attachments": ["x" * 24]},
        headers=headers,
    )
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "unknown_upload"
    resp = await client.post(f"/api/v1/conversations/{conv}/reply", json={}, headers=headers)
    assert resp.status == 422


async def test_limits_tell_clients_the_cap_and_types(client: Client) -> None:
    """Clients can check a file before uploading it."""
    headers = await login_as(client, "sara")
    limits = await (await client.get("/api/v1/uploads/limits", headers=headers)).json()
    assert limits["max_bytes"] == client.app[FILES].max_bytes
    assert "application/pdf" in limits["content_types"]
    assert "image/svg+xml" not in limits["content_types"]


async def test_uploads_appear_in_openapi(client: Client) -> None:
    """The upload endpoint documents its multipart body."""
    doc = await (await client.get("/api/v1/openapi.json")).json()
    body = doc["paths"]["/api/v1/uploads"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    assert "get" in doc["paths"]["/api/v1/files/{key}"]
