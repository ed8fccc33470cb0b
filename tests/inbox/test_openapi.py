"""The API describes itself."""

from __future__ import annotations

from inbox.api import PUBLIC, api
from tests.inbox.conftest import Client


async def test_openapi_lists_every_endpoint_with_its_role(client: Client) -> None:
    """Every declared endpoint is in the document, with request schemas and required roles."""
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    for ep in api.endpoints:
        op = doc["paths"][api.prefix + ep.path][ep.method.lower()]
        if ep.body is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
        assert ("x-role" in op) == (ep.role is not PUBLIC)
    merge = doc["paths"]["/api/v1/customers/{customer_id}/merge"]["post"]
    assert merge["x-role"] == "supervisor"
    erase = doc["paths"]["/api/v1/customers/{customer_id}/erase"]["post"]
    assert erase["x-role"] == "admin" and "confirm_mismatch" in erase["description"]
    assert doc["components"]["schemas"]["EraseBody"]["required"] == ["reason", "confirm"]
    reply = doc["components"]["schemas"]["ReplyBody"]
    # Text or uploaded files (or both): the body enforces one of them, so neither is required.
    assert "required" not in reply
    assert reply["properties"]["attachments"]["type"] == "array"
