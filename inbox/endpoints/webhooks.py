"""Event webhook subscriptions: admins create, inspect, pause, resume and delete them."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from core.errors import NotFound
from core.types import Role
from core.webhook_models import WebhookDelivery, WebhookSubscription
from core.webhooks import (
    delivery_dict,
    do_create_subscription,
    do_delete_subscription,
    do_redeliver,
    do_resume_subscription,
    do_update_subscription,
    subscription_dict,
)
from inbox.api import api, current_agent
from inbox.keys import RUNTIME

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)]
EventName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class SubscriptionBody(BaseModel):
    """A new subscription: where to post, and which events (``*`` for all)."""

    model_config = ConfigDict(extra="forbid")

    url: Url
    events: list[EventName] = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=200)


class SubscriptionPatch(BaseModel):
    """Changes to a subscription; ``rotate_secret`` issues a new signing secret."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=200)
    active: bool | None = None
    rotate_secret: bool = False


class DeliveryQuery(BaseModel):
    """Filter a subscription's deliveries."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(default=None, pattern="^(pending|delivered|failed)$")
    limit: int = Field(default=50, ge=1, le=200)


def _id(request: web.Request, name: str = "subscription_id") -> int:
    """A numeric id from the path."""
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise NotFound("no such webhook subscription") from exc


@api.route("GET", "/webhooks", role=Role.ADMIN, tag="webhooks")
async def list_subscriptions(request: web.Request) -> web.Response:
    """Every subscription with its health: active, paused (kept failing) or disabled."""
    async with request.app[RUNTIME].sessions() as session:
        subs = (
            (await session.execute(select(WebhookSubscription).order_by(WebhookSubscription.id)))
            .scalars()
            .all()
        )
    return web.json_response([subscription_dict(s) for s in subs])


@api.route("POST", "/webhooks", role=Role.ADMIN, tag="webhooks", status=201)
async def create_subscription(request: web.Request, body: SubscriptionBody) -> web.Response:
    """Subscribe a URL to events; the signing secret is shown once, in this answer."""
    sub = await do_create_subscription(
        request.app[RUNTIME],
        body.url,
        body.events,
        description=body.description,
        agent_id=current_agent(request).id,
    )
    return web.json_response(subscription_dict(sub, with_secret=True), status=201)


@api.route("GET", "/webhooks/{subscription_id}", role=Role.ADMIN, tag="webhooks")
async def get_subscription(request: web.Request) -> web.Response:
    """One subscription."""
    async with request.app[RUNTIME].sessions() as session:
        sub = await session.get(WebhookSubscription, _id(request))
    if sub is None:
        raise NotFound("no such webhook subscription")
    return web.json_response(subscription_dict(sub))


@api.route("PATCH", "/webhooks/{subscription_id}", role=Role.ADMIN, tag="webhooks")
async def update_subscription(request: web.Request, body: SubscriptionPatch) -> web.Response:
    """Change the URL, events, description or on/off switch, or rotate the secret."""
    sub = await do_update_subscription(
        request.app[RUNTIME],
        _id(request),
        url=body.url,
        events=body.events,
        description=body.description,
        active=body.active,
        rotate_secret=body.rotate_secret,
    )
    return web.json_response(subscription_dict(sub, with_secret=body.rotate_secret))


@api.route("DELETE", "/webhooks/{subscription_id}", role=Role.ADMIN, tag="webhooks")
async def delete_subscription(request: web.Request) -> web.Response:
    """Remove a subscription and what it was still owed."""
    await do_delete_subscription(request.app[RUNTIME], _id(request))
    return web.json_response({"deleted": True})


@api.route("POST", "/webhooks/{subscription_id}/resume", role=Role.ADMIN, tag="webhooks")
async def resume_subscription(request: web.Request) -> web.Response:
    """Un-pause a subscription; its backlog is retried at once."""
    sub = await do_resume_subscription(request.app[RUNTIME], _id(request))
    return web.json_response(subscription_dict(sub))


@api.route("GET", "/webhooks/{subscription_id}/deliveries", role=Role.ADMIN, tag="webhooks")
async def list_deliveries(request: web.Request, query: DeliveryQuery) -> web.Response:
    """A subscription's deliveries, newest first, with attempts and last errors."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == _id(request))
    if query.status:
        stmt = stmt.where(WebhookDelivery.status == query.status)
    async with request.app[RUNTIME].sessions() as session:
        rows = (
            (await session.execute(stmt.order_by(WebhookDelivery.id.desc()).limit(query.limit)))
            .scalars()
            .all()
        )
    return web.json_response([delivery_dict(d) for d in rows])


@api.route(
    "POST",
    "/webhooks/{subscription_id}/deliveries/{delivery_row_id}/redeliver",
    role=Role.ADMIN,
    tag="webhooks",
)
async def redeliver(request: web.Request) -> web.Response:
    """Send one delivery again, with the same delivery id."""
    d = await do_redeliver(request.app[RUNTIME], _id(request), _id(request, "delivery_row_id"))
    return web.json_response(delivery_dict(d))
