"""A live service on a free loopback port and real headless Chromium driving it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from connectors.memory import MemoryConnector
from core.accounts import do_create_agent
from core.runtime import Runtime
from core.types import Role
from inbox.app import create_app
from inbox.keys import CONNECTORS, RUNTIME
from tests.conftest import make_settings

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
PASSWORD = "password123"


@dataclass
class Live:
    """The running service: its URL, runtime (to make data with `do_*`) and memory channel."""

    url: str
    app: web.Application

    @property
    def rt(self) -> Runtime:
        """The app's runtime."""
        return self.app[RUNTIME]

    @property
    def memory(self) -> MemoryConnector:
        """The in-memory channel replies go out on."""
        connector = self.app[CONNECTORS]["memory"]
        assert isinstance(connector, MemoryConnector)
        return connector

    async def agent(self, login: str, role: Role = Role.AGENT, language: str = "en") -> int:
        """Create an agent who logs in with ``PASSWORD``."""
        agent = await do_create_agent(
            self.rt.sessions, login, login.title(), PASSWORD, role, language
        )
        return agent.id


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[Live]:
    """Run an app on a free loopback port for the length of the block."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server: Any = site._server
    port = server.sockets[0].getsockname()[1]
    try:
        yield Live(f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def live(sqlite_url: str) -> AsyncIterator[Live]:
    """The full app with workers but no routing step, so tests set statuses themselves."""
    async with serve(
        create_app(make_settings(sqlite_url), migrate=False, steps=lambda *_: [])
    ) as running:
        yield running


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium binary; `make test` installs it (scripts/deps-*.sh)."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: run `make system-deps`")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Headless Debian Chromium (Playwright's own download is never used)."""
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=str(chromium), args=["--disable-gpu", "--disable-quic"]
        )
        yield b
        await b.close()


async def login(
    browser: Browser, live: Live, user: str, path: str = "/", lang: str | None = None
) -> Page:
    """A fresh browser context logged in as ``user``, on ``path``; errors in the page fail."""
    context = await browser.new_context(viewport={"width": 1366, "height": 800})
    page = await context.new_page()
    await page.goto(live.url + "/")
    if lang:
        await page.evaluate("lang => localStorage.setItem('tawasul.lang', lang)", lang)
        await page.reload()
    await page.fill("#login-user", user)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#app:not([hidden])")
    if path != "/":
        await page.goto(live.url + path)
    # Live once the server has registered the page's WebSocket (it answers "hello").
    await page.wait_for_selector('body[data-live="on"]', state="attached")
    return page
