"""The agent list: active agents for everyone, the whole roster for supervisors and admins."""

from __future__ import annotations

from core.accounts import do_update_agent
from core.types import Role
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, login_as, next_event


async def test_supervisors_list_deactivated_agents_and_who_is_online(client: Client) -> None:
    """`include_inactive` adds deactivated agents and `online`; agents may not ask for it."""
    sara = await login_as(client, "sara")
    huda = await login_as(client, "huda", Role.SUPERVISOR)
    await login_as(client, "omar")
    by_login = {
        a["login"]: a for a in await (await client.get("/api/v1/agents", headers=sara)).json()
    }
    await do_update_agent(client.app[RUNTIME], by_login["omar"]["id"], active=False)

    plain = await (await client.get("/api/v1/agents", headers=sara)).json()
    assert [a["login"] for a in plain] == ["huda", "sara"]
    assert all("online" not in a for a in plain)
    resp = await client.get("/api/v1/agents?include_inactive=true", headers=sara)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"

    ws = await client.ws_connect("/api/v1/ws", headers=sara)
    await next_event(ws, "hello")
    resp = await client.get("/api/v1/agents?include_inactive=true", headers=huda)
    roster = {a["login"]: a for a in await resp.json()}
    assert {k: (a["active"], a["online"]) for k, a in roster.items()} == {
        "huda": (True, False),
        "omar": (False, False),
        "sara": (True, True),
    }
    assert "password_hash" not in roster["omar"]
    resp = await client.get("/api/v1/agents?include_inactive=maybe", headers=huda)
    assert resp.status == 422
    await ws.close()
