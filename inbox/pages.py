"""The web UI's pages: the agent inbox at ``/`` and the supervisor console at ``/supervisor``."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

UI = Path(__file__).resolve().parent / "static" / "ui"

# Customer text is only ever set as text, and this policy makes any script that slips into
# the page inert anyway: no inline scripts, no handlers, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def _page(name: str) -> Handler:
    """A handler serving one HTML page with the security headers."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            UI / name,
            headers={
                "Content-Security-Policy": CSP,
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",
            },
        )

    return handler


def setup_pages(app: web.Application) -> None:
    """Mount the pages (the assets are served from ``/static/ui/``)."""
    app.router.add_get("/", _page("index.html"))
    app.router.add_get("/supervisor", _page("supervisor.html"))
