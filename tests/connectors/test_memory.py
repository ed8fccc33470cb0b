"""The in-memory channel and the connector base's send guard."""

from __future__ import annotations

import pytest

from connectors.base import SendRefused
from connectors.memory import MemoryConnector
from connectors.registry import CONNECTORS, Connectors
from core.actions import IngestResult
from core.runtime import PermanentDeliveryError
from core.types import InboundMessage, OutboundMessage


async def sink(message: InboundMessage) -> IngestResult:
    """A sink that records nothing and says it stored the message."""
    return IngestResult(1, 1, 1, created=True)


async def test_sends_and_numbers_receipts() -> None:
    """Each send is kept and gets its own channel id."""
    connector = MemoryConnector(sink)
    r1 = await connector.send(OutboundMessage(1, "memory", "c1", "hi"))
    r2 = await connector.send(OutboundMessage(2, "memory", "c1", "again"))
    assert r1.external_message_id != r2.external_message_id
    assert [m.text for m in connector.sent] == ["hi", "again"]


async def test_private_notes_and_resends_are_refused() -> None:
    """The base class never sends a note or a message that already has a channel id."""
    connector = MemoryConnector(sink)
    with pytest.raises(SendRefused):
        await connector.send(OutboundMessage(1, "memory", "c1", "secret", private=True))
    with pytest.raises(SendRefused):
        await connector.send(OutboundMessage(1, "memory", "c1", "hi", external_message_id="x"))
    assert list(connector.sent) == []
    assert issubclass(SendRefused, PermanentDeliveryError)


async def test_registry_routes_sends_by_channel_and_rejects_unknown() -> None:
    """The connector set sends through the named channel; an unknown channel is permanent."""
    assert CONNECTORS["memory"] is MemoryConnector
    connectors = Connectors.build(["memory"], {}, sink)
    await connectors.send(OutboundMessage(1, "memory", "c1", "hi"))
    with pytest.raises(PermanentDeliveryError):
        await connectors.send(OutboundMessage(2, "carrier-pigeon", "c1", "hi"))
    with pytest.raises(ValueError, match="unknown channel"):
        Connectors.build(["carrier-pigeon"], {}, sink)


async def test_dev_routes_answer_this_machine_only() -> None:
    """A proxied or remote request to the memory channel's routes is refused with 403."""
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    connector = MemoryConnector(sink)
    proxied = make_mocked_request("POST", "/inbound", headers={"X-Forwarded-For": "203.0.113.9"})
    with pytest.raises(web.HTTPForbidden):
        await connector._inbound(proxied)
    remote = make_mocked_request("GET", "/outbox", transport=_Transport("203.0.113.9"))
    with pytest.raises(web.HTTPForbidden):
        await connector._outbox(remote)
    local = make_mocked_request("GET", "/outbox", transport=_Transport("127.0.0.1"))
    assert (await connector._outbox(local)).status == 200


def test_only_the_last_thousand_sends_are_kept() -> None:
    """The outbox is bounded so a long-running dev service does not grow without end."""
    connector = MemoryConnector(sink)
    for i in range(1005):
        connector.sent.append(OutboundMessage(i, "memory", "c1", str(i)))
    assert len(connector.sent) == 1000 and connector.sent[0].text == "5"


class _Transport:
    """Just enough of a transport to give a mocked request its peer address."""

    def __init__(self, host: str) -> None:
        self.host = host

    def get_extra_info(self, name: str, default: object = None) -> object:
        """The peer address, as aiohttp asks for it."""
        return (self.host, 40000) if name == "peername" else default
