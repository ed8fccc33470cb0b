"""Bad input gets a 4xx with a JSON reason, never a 500, and writes nothing."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from core.models import Message
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, eventually, login_as, memory


async def messages(client: Client) -> int:
    """Stored messages."""
    async with client.app[RUNTIME].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


async def conversation(client: Client) -> int:
    """A conversation to aim bad requests at, once the pipeline has finished with it."""
    result = await memory(client).receive("cust-1", "m-1", "hello")

    async def processed() -> bool:
        async with client.app[RUNTIME].sessions() as session:
            message = await session.get(Message, result.message_id)
        return message is not None and message.pipeline_state == "done"

    await eventually(processed)
    return int(result.conversation_id)


async def test_malformed_json_is_400(client: Client) -> None:
    """A body that is not JSON is refused with code malformed_json."""
    headers = await login_as(client, "sara")
    cid = await conversation(client)
    before = await messages(client)
    resp = await client.post(
        f"/api/v1/conversations/{cid}/reply",
        data=b'{"text": "hi"',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_json"
    assert await messages(client) == before


async def test_missing_and_unknown_fields_name_the_problem(client: Client) -> None:
    """A missing field and an unknown one are 422s that name the field."""
    headers = await login_as(client, "sara")
    cid = await conversation(client)
    resp = await client.post(f"/api/v1/conversations/{cid}/reply", json={}, headers=headers)
    body = await resp.json()
    assert resp.status == 422 and body["error"]["code"] == "validation_error"
    assert body["error"]["details"][0]["field"] == "text"
    resp = await client.post(
        f"/api/v1/conversations/{cid}/reply", json={"text": "x", "txet": 1}, headers=headers
    )
    assert resp.status == 422 and "txet" in (await resp.json())["error"]["message"]


async def test_unknown_enum_values_are_422(client: Client) -> None:
    """A status or priority outside the enum is refused, naming it."""
    headers = await login_as(client, "sara")
    cid = await conversation(client)
    resp = await client.get("/api/v1/conversations?status=sleeping", headers=headers)
    assert resp.status == 422 and "status" in (await resp.json())["error"]["message"]
    resp = await client.post(
        f"/api/v1/conversations/{cid}/escalate",
        json={"reason": "anger", "priority": "apocalyptic"},
        headers=headers,
    )
    assert resp.status == 422 and "priority" in (await resp.json())["error"]["message"]


async def test_oversize_body_is_413(client: Client) -> None:
    """A body over the cap is refused before it is read into memory."""
    headers = await login_as(client, "sara")
    cid = await conversation(client)
    before = await messages(client)
    resp = await client.post(
        f"/api/v1/conversations/{cid}/reply",
        data=io.BytesIO(b'{"text": "' + b"a" * 2_000_000 + b'"}'),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == "payload_too_large"
    assert await messages(client) == before


async def test_overlong_text_and_wrong_types_are_422(client: Client) -> None:
    """Text beyond the cap and a number where text belongs are refused."""
    headers = await login_as(client, "sara")
    cid = await conversation(client)
    for payload in ({"text": "a" * 10_001}, {"text": 5}, {"text": ""}):
        resp = await client.post(
            f"/api/v1/conversations/{cid}/reply", json=payload, headers=headers
        )
        assert resp.status == 422, payload


async def test_unknown_conversation_is_404_and_bad_path_is_404(client: Client) -> None:
    """Missing things are 404 with a JSON body."""
    headers = await login_as(client, "sara")
    for path in ("/api/v1/conversations/999", "/api/v1/conversations/abc", "/api/v1/nope"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 404, path
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_bad_cursor_and_wrong_content_type(client: Client) -> None:
    """A forged cursor is 422; a form post where JSON is expected is 415."""
    headers = await login_as(client, "sara")
    resp = await client.get("/api/v1/conversations?cursor=!!!", headers=headers)
    assert resp.status == 422
    resp = await client.post("/api/v1/auth/login", data={"login": "a", "password": "b"})
    assert resp.status == 415
