"""Order actions against a stub of the Tawasul orders API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.actions import ActionCancelOrder, ActionOrderStatus, ActionProvideOrderNumber
from bot.actions.orders_api import Order, OrdersApi, OrdersUnavailable

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
TOKEN = "bot-secret"
SHIPPED = {
    "number": "A-10234",
    "status": "shipped",
    "eta": "2026-11-25",
    "carrier": "Aramex",
    "total": "120.00",
    "currency": "SAR",
    "cancellable": False,
}


class OrdersStub:
    """A fake orders API: a few orders, one conversation, and switches for failure modes."""

    def __init__(self) -> None:
        """Start with A-10234 shipped and A-20000 processing (cancellable)."""
        self.orders = {
            "A-10234": dict(SHIPPED),
            "A-20000": dict(SHIPPED, number="A-20000", status="processing", cancellable=True),
        }
        self.owner = "conv-1"
        self.fail_with: int | None = None
        self.delay = 0.0
        self.requests: list[tuple[str, str, str | None, Any]] = []

    def app(self) -> web.Application:
        """The aiohttp app with the two contract routes."""
        app = web.Application()
        app.router.add_get("/api/v1/orders/{number}", self.get)
        app.router.add_post("/api/v1/orders/{number}/cancel", self.cancel)
        return app

    async def _common(self, request: web.Request, conversation: str | None, body: Any) -> Any:
        """Record, check auth, apply failure switches, find the order."""
        self.requests.append(
            (request.method, request.path, request.headers.get("Authorization"), body)
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_with:
            raise (
                web.HTTPException(reason="stub failure") if False else web.HTTPServiceUnavailable()
            )
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized()
        order = self.orders.get(request.match_info["number"])
        if order is None or conversation != self.owner:
            error = {"error": {"code": "not_found", "message": "no such order"}}
            raise web.HTTPNotFound(
                text=web.json_response(error).text, content_type="application/json"
            )
        return order

    async def get(self, request: web.Request) -> web.Response:
        """GET /api/v1/orders/{number}?conversation_id=…"""
        order = await self._common(request, request.query.get("conversation_id"), None)
        return web.json_response(order)

    async def cancel(self, request: web.Request) -> web.Response:
        """POST /api/v1/orders/{number}/cancel {"conversation_id": …}"""
        body = await request.json()
        order = await self._common(request, body.get("conversation_id"), body)
        if not order["cancellable"]:
            error = {"error": {"code": "not_cancellable", "message": "already shipped"}}
            return web.json_response(error, status=409)
        order.update(status="cancelled", cancellable=False)
        return web.json_response(order)


@pytest.fixture
async def orders(aiohttp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch) -> OrdersStub:
    """A running stub; the actions find it through TAWASUL_API_URL."""
    stub = OrdersStub()
    server = await aiohttp_server(stub.app())
    monkeypatch.setenv("TAWASUL_API_URL", str(server.make_url("")).rstrip("/"))
    monkeypatch.setenv("TAWASUL_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TAWASUL_API_TIMEOUT", "0.5")
    return stub


def tracker(
    text: str,
    number: str | None = None,
    language: str = "en",
    sender: str = "conv-1",
    **slots: Any,
) -> Tracker:
    """A tracker whose latest message is `text`, with an order_number entity if given."""
    entities = [{"entity": "order_number", "value": number}] if number else []
    return Tracker(
        sender_id=sender,
        slots={"language": language, **slots},
        latest_message={"text": text, "entities": entities, "intent": {}},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name=None,
    )


async def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action; return what it said and the events it returned."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return dispatcher.messages, events


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    """SlotSet events as a dict."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_status_in_english(orders: OrdersStub) -> None:
    """Status, carrier, ETA and total, with the bearer token and the conversation id sent."""
    messages, events = await run(ActionOrderStatus(), tracker("where is A-10234", "A-10234"))
    assert messages[0]["text"] == (
        "Your order A-10234 is shipped. Carrier: Aramex. Expected delivery: 2026-11-25. "
        "Total: 120.00 SAR."
    )
    assert orders.requests == [("GET", "/api/v1/orders/A-10234", f"Bearer {TOKEN}", None)]
    assert slots(events) == {"pending_order_action": None, "order_number": "A-10234"}


async def test_status_in_arabic_with_arabic_indic_digits(orders: OrdersStub) -> None:
    """'#١٠٢٣٤'-style numbers are normalised; the status word and currency are translated."""
    orders.orders["10234"] = dict(SHIPPED, number="10234")
    messages, _ = await run(ActionOrderStatus(), tracker("وين طلبي", "#١٠٢٣٤", "ar"))
    text = messages[0]["text"]
    assert "10234" in text and "تم شحنه" in text and "ريال" in text
    assert orders.requests[0][1] == "/api/v1/orders/10234"


async def test_status_asks_for_a_missing_number(orders: OrdersStub) -> None:
    """No number anywhere: ask for it and remember what to do with it."""
    messages, events = await run(ActionOrderStatus(), tracker("where is my order"))
    assert "order number" in messages[0]["text"]
    assert slots(events) == {"pending_order_action": "status"}
    assert orders.requests == []


async def test_someone_elses_order_is_not_found(orders: OrdersStub) -> None:
    """404 (unknown, or another customer's order): say so, never leak anything."""
    orders.owner = "somebody-else"
    messages, events = await run(ActionOrderStatus(), tracker("status A-10234", "A-10234"))
    assert "couldn't find an order A-10234" in messages[0]["text"]
    assert len(messages) == 1  # no handoff for a plain not-found
    assert slots(events)["pending_order_action"] == "status"


@pytest.mark.parametrize("failure", ["5xx", "timeout", "down"])
async def test_failure_hands_off(
    orders: OrdersStub, failure: str, unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Service down, slow or 5xx: a 'connecting you' text and the action_failed marker."""
    if failure == "5xx":
        orders.fail_with = 503
    elif failure == "timeout":
        orders.delay = 2.0
    else:
        monkeypatch.setenv("TAWASUL_API_URL", f"http://127.0.0.1:{unused_tcp_port}")
    messages, _ = await run(ActionOrderStatus(), tracker("where is A-10234", "A-10234", "ar"))
    assert messages[0]["text"].startswith("عذرًا")
    assert messages[1]["custom"] == {"handoff": True, "reason": "action_failed"}


async def test_unexpected_bug_hands_off(
    orders: OrdersStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a bug in our code ends in a handoff, not silence."""

    def broken() -> OrdersApi:
        raise RuntimeError("bug")

    monkeypatch.setattr(ActionOrderStatus, "api_factory", staticmethod(broken))
    messages, _ = await run(ActionOrderStatus(), tracker("where is A-10234", "A-10234"))
    assert messages[-1]["custom"] == {"handoff": True, "reason": "action_failed"}


async def test_cancel_with_number_cancels(orders: OrdersStub) -> None:
    """A number in the cancel message is explicit: POST cancel with the conversation id."""
    messages, _ = await run(ActionCancelOrder(), tracker("cancel A-20000", "A-20000"))
    assert messages[0]["text"].startswith("Order A-20000 is cancelled")
    assert orders.requests == [
        ("POST", "/api/v1/orders/A-20000/cancel", f"Bearer {TOKEN}", {"conversation_id": "conv-1"})
    ]


async def test_session_sender_id_sends_the_conversation_id(orders: OrdersStub) -> None:
    """Sender '41-<session>' (one bot session of conversation 41) asks as conversation 41."""
    orders.owner = "41"
    t = tracker("cancel A-20000", "A-20000", sender="41-0123456789abcdef")
    messages, _ = await run(ActionCancelOrder(), t)
    assert messages[0]["text"].startswith("Order A-20000 is cancelled")
    assert orders.requests[0][3] == {"conversation_id": "41"}


async def test_cancel_conflict_explains(orders: OrdersStub) -> None:
    """409 not_cancellable: explain and point to returns, in Arabic here."""
    messages, _ = await run(ActionCancelOrder(), tracker("الغي A-10234", "A-10234", "ar"))
    assert "لا يمكن إلغاء الطلب A-10234" in messages[0]["text"]


async def test_cancel_remembered_number_needs_confirmation(orders: OrdersStub) -> None:
    """A number from earlier in the chat is not cancelled without the customer repeating it."""
    t = tracker("cancel it", order_number="A-20000")
    messages, events = await run(ActionCancelOrder(), t)
    assert "Do you want to cancel order A-20000" in messages[0]["text"]
    assert slots(events) == {"pending_order_action": "cancel"}
    assert orders.requests == []


async def test_bare_number_continues_pending_cancel(orders: OrdersStub) -> None:
    """After 'cancel my order' → 'which number?', the bare number cancels."""
    t = tracker("A-20000", "A-20000", pending_order_action="cancel")
    messages, _ = await run(ActionProvideOrderNumber(), t)
    assert messages[0]["text"].startswith("Order A-20000 is cancelled")


async def test_bare_number_defaults_to_status(orders: OrdersStub) -> None:
    """A number out of the blue is a status question."""
    messages, _ = await run(ActionProvideOrderNumber(), tracker("A-10234", "A-10234"))
    assert messages[0]["text"].startswith("Your order A-10234 is shipped")


def test_malformed_order_body_is_an_outage() -> None:
    """A 200 without the contract's fields is treated like a failing service."""
    with pytest.raises(OrdersUnavailable):
        Order.from_json({"status": "shipped"})
