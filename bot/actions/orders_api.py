"""HTTP client for the Tawasul orders API that the order actions call."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp


class OrdersApiError(Exception):
    """Base class for orders API outcomes other than success."""


class OrderNotFound(OrdersApiError):
    """404: no such order, or not this customer's."""


class OrderNotCancellable(OrdersApiError):
    """409: the order can no longer be cancelled."""


class OrdersUnavailable(OrdersApiError):
    """The service is down, slow, misconfigured or answered something we cannot read."""


@dataclass(frozen=True)
class Order:
    """One order as the API describes it."""

    number: str
    status: str
    eta: str | None
    carrier: str | None
    total: str
    currency: str
    cancellable: bool

    @classmethod
    def from_json(cls, data: Any) -> Order:
        """Build from the API's JSON body; raise OrdersUnavailable if it is malformed."""
        try:
            return cls(
                number=str(data["number"]),
                status=str(data["status"]),
                eta=data.get("eta"),
                carrier=data.get("carrier"),
                total=str(data.get("total", "")),
                currency=str(data.get("currency", "")),
                cancellable=bool(data.get("cancellable", False)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise OrdersUnavailable(f"malformed order body: {exc!r}") from exc


class OrdersApi:
    """`GET /api/v1/orders/{n}` and `POST /api/v1/orders/{n}/cancel` with the bot's bearer token."""

    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        """Remember where the service is; a session per call (low volume, no event-loop ties)."""
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_env(cls) -> OrdersApi:
        """Read TAWASUL_API_URL, TAWASUL_BOT_TOKEN and TAWASUL_API_TIMEOUT."""
        return cls(
            os.environ.get("TAWASUL_API_URL", "http://127.0.0.1:8080"),
            os.environ.get("TAWASUL_BOT_TOKEN", ""),
            float(os.environ.get("TAWASUL_API_TIMEOUT", "5")),
        )

    async def get(self, number: str, conversation_id: str) -> Order:
        """Look an order up for this conversation's customer."""
        url = f"{self.base_url}/api/v1/orders/{quote(number, safe='')}"
        return await self._call("GET", url, params={"conversation_id": conversation_id})

    async def cancel(self, number: str, conversation_id: str) -> Order:
        """Cancel an order; returns the updated order."""
        url = f"{self.base_url}/api/v1/orders/{quote(number, safe='')}/cancel"
        return await self._call("POST", url, json={"conversation_id": conversation_id})

    async def _call(self, method: str, url: str, **kwargs: Any) -> Order:
        """Send one request and map the status code onto an Order or an OrdersApiError."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(method, url, headers=headers, **kwargs) as resp,
            ):
                status = resp.status
                body = await resp.json(content_type=None) if status < 500 else None
        # asyncio.TimeoutError, not TimeoutError: they differ on Python 3.10 (the Rasa venv).
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:  # noqa: UP041
            raise OrdersUnavailable(f"{method} {url}: {exc!r}") from exc
        if status == 200:
            return Order.from_json(body)
        if status == 404:
            raise OrderNotFound(_message(body))
        if status == 409:
            raise OrderNotCancellable(_message(body))
        raise OrdersUnavailable(f"{method} {url}: HTTP {status}")


def _message(body: Any) -> str:
    """The `error.message` of an error body, or an empty string."""
    try:
        return str(body["error"]["message"])
    except (KeyError, TypeError):
        return ""
