"""Declared endpoints: one decorator gives routing, role checks, validation and OpenAPI."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from aiohttp import web
from pydantic import BaseModel

from core.models import Agent
from core.types import Role
from inbox.errors import http_error
from inbox.keys import AGENT, IS_BOT

Handler = Callable[..., Awaitable[web.StreamResponse]]

PUBLIC = None
BOT = "bot"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API operation."""

    method: str
    path: str
    handler: Handler
    role: Role | str | None
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    status: int
    content: dict[str, Any] | None = None  # a non-JSON request body (uploads), for OpenAPI
    description: str = ""  # the docstring after its first paragraph, for OpenAPI


def current_agent(request: web.Request) -> Agent:
    """The logged-in agent (the auth middleware put it there)."""
    agent: Agent | None = request.get(AGENT)
    if agent is None:
        raise http_error(web.HTTPUnauthorized, "unauthenticated", "log in first")
    return agent


def _check_role(request: web.Request, role: Role | str | None) -> None:
    if role is PUBLIC:
        return
    if role == BOT:
        if request.get(IS_BOT) or request.get(AGENT) is not None:
            return
        raise http_error(
            web.HTTPUnauthorized, "unauthenticated", "a bot or agent token is required"
        )
    agent = current_agent(request)
    assert isinstance(role, Role)
    if not Role(agent.role).allows(role):
        raise http_error(web.HTTPForbidden, "forbidden", f"this needs the {role} role")


async def _read_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    if request.content_type != "application/json":
        raise http_error(
            web.HTTPUnsupportedMediaType, "unsupported_media_type", "send application/json"
        )
    raw = await request.read()
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise http_error(web.HTTPBadRequest, "malformed_json", f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise http_error(web.HTTPBadRequest, "malformed_json", "body must be a JSON object")
    return model.model_validate(data)


class Api:
    """A set of endpoints under one prefix."""

    def __init__(self, prefix: str = "/api/v1") -> None:
        self.prefix = prefix
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        role: Role | str | None = Role.AGENT,
        summary: str = "",
        tag: str = "",
        status: int = 200,
        content: dict[str, Any] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare an endpoint; ``body``/``query`` parameters typed as models are validated."""

        def register(handler: Handler) -> Handler:
            hints = get_type_hints(handler)
            doc = inspect.getdoc(handler) or ""
            body = hints.get("body")
            query = hints.get("query")
            self.endpoints.append(
                Endpoint(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    role=role,
                    summary=summary or doc.split("\n")[0],
                    tag=tag,
                    body=body if isinstance(body, type) and issubclass(body, BaseModel) else None,
                    query=query
                    if isinstance(query, type) and issubclass(query, BaseModel)
                    else None,
                    status=status,
                    content=content,
                    description=doc.partition("\n\n")[2].strip(),
                )
            )
            return handler

        return register

    def mount(self, app: web.Application) -> None:
        """Add every endpoint to the app's router."""
        for ep in self.endpoints:
            app.router.add_route(ep.method, self.prefix + ep.path, self._wrap(ep))

    @staticmethod
    def _wrap(ep: Endpoint) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            _check_role(request, ep.role)
            kwargs: dict[str, Any] = {}
            if ep.body is not None:
                kwargs["body"] = await _read_body(request, ep.body)
            if ep.query is not None:
                kwargs["query"] = ep.query.model_validate(dict(request.query))
            return await ep.handler(request, **kwargs)

        return handle

    def openapi(self, title: str, version: str) -> dict[str, Any]:
        """The OpenAPI 3.1 description of every endpoint."""
        paths: dict[str, dict[str, Any]] = {}
        schemas: dict[str, Any] = {}
        for ep in self.endpoints:
            op: dict[str, Any] = {
                "summary": ep.summary,
                "tags": [ep.tag] if ep.tag else [],
                "responses": {
                    str(ep.status): {"description": "OK"},
                    "4XX": {
                        "description": "Refused; the body says why",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                },
            }
            if ep.description:
                op["description"] = ep.description
            if ep.role is not PUBLIC:
                op["security"] = [{"session": []}, {"bearer": []}]
                op["x-role"] = str(ep.role)
            params = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", ep.path)
            ]
            if ep.query is not None:
                qschema = ep.query.model_json_schema()
                for name, prop in qschema.get("properties", {}).items():
                    params.append(
                        {
                            "name": name,
                            "in": "query",
                            "required": name in qschema.get("required", []),
                            "schema": prop,
                        }
                    )
            if params:
                op["parameters"] = params
            if ep.body is not None:
                schema = ep.body.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[ep.body.__name__] = schema
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{ep.body.__name__}"}
                        }
                    },
                }
            if ep.content is not None:
                op["requestBody"] = {"required": True, "content": ep.content}
            paths.setdefault(self.prefix + ep.path, {})[ep.method.lower()] = op
        schemas["Error"] = {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                }
            },
        }
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "session": {"type": "apiKey", "in": "cookie", "name": "tawasul_session"},
                    "bearer": {"type": "http", "scheme": "bearer"},
                },
            },
        }


api = Api()
