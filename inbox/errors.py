"""Every error leaves as JSON `{"error": {"code", "message", …}}`; nothing leaks a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from core.errors import DomainError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """A JSON error body with a stable code."""
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


def http_error(cls: type[web.HTTPError], code: str, message: str, **extra: Any) -> web.HTTPError:
    """An aiohttp HTTP exception carrying our JSON error body."""
    return cls(
        text=json.dumps({"error": {"code": code, "message": message, **extra}}, ensure_ascii=False),
        content_type="application/json",
    )


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``{field, problem}`` pairs a client can show."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn domain, validation and HTTP errors into JSON; log and mask unexpected ones."""
    try:
        return await handler(request)
    except DomainError as exc:
        return error_response(exc.http_status, exc.code, exc.message)
    except ValidationError as exc:
        details = validation_details(exc)
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
        return error_response(422, "validation_error", summary, details=details)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            401: "unauthenticated",
            403: "forbidden",
        }.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong; it was logged")
