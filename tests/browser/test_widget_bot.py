"""The web chat widget in headless Chromium answered by the real trained Rasa bot."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import in_transaction
from core.models import Identity, Order
from inbox.app import create_app
from inbox.keys import RUNTIME
from tests.bot.conftest import REPO
from tests.conftest import make_settings
from tests.connectors.conftest import free_port
from tests.inbox.conftest import eventually

pytestmark = [pytest.mark.browser, pytest.mark.rasa]

TOKEN = "widget-bot-token"


@dataclass(frozen=True)
class Stack:
    """Where Rasa listens and the port the service must take (the action server calls it)."""

    rasa_url: str
    app_port: int


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Rasa and the action server on free ports, their actions pointed at the service's port."""
    if not (REPO / ".venv-rasa" / "bin" / "rasa").exists():
        pytest.skip("no Rasa venv (.venv-rasa): run `make rasa-venv`")
    if not list((REPO / "bot" / "models").glob("*.tar.gz")):
        pytest.skip("no trained model in bot/models: run `make train`")
    rasa_port, actions_port, app_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        RASA_PORT=str(rasa_port),
        ACTIONS_PORT=str(actions_port),
        RASA_RUN=str(REPO / ".rasa" / "run-widget"),
        TAWASUL_API_URL=f"http://127.0.0.1:{app_port}",
        TAWASUL_BOT_TOKEN=TOKEN,
    )
    serve = str(REPO / "bot" / "serve.sh")
    subprocess.run([serve, "down"], env=env, check=False, timeout=60)
    try:
        subprocess.run([serve, "up"], env=env, check=True, timeout=240)
        yield Stack(f"http://127.0.0.1:{rasa_port}", app_port)
    finally:
        subprocess.run([serve, "down"], env=env, check=False, timeout=60)


@pytest.fixture
async def service(
    stack: Stack, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, web.Application]]:
    """The service with web chat and the Rasa bot, on the port the action server calls."""
    monkeypatch.setenv("WEBCHAT_SITES", '{"demo": {"origins": ["self"]}}')
    settings = make_settings(
        sqlite_url,
        channels="memory,webchat",
        bot_enabled=True,
        rasa_url=stack.rasa_url,
        rasa_timeout_seconds=20,
        bot_token=TOKEN,
    )
    app = create_app(settings, migrate=False)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", stack.app_port).start()
    yield f"http://127.0.0.1:{stack.app_port}", app
    await runner.cleanup()


async def say(page: Page, text: str) -> None:
    """Type a message in the widget and press Enter."""
    box = page.locator("#tawasul-widget textarea")
    await box.fill(text)
    await box.press("Enter")


async def bot_says(page: Page, count: int) -> str:
    """Wait for the widget to show ``count`` bot bubbles (after the site's greeting)."""
    bubbles = page.locator(".tw-agent .tw-text")
    await expect(bubbles).to_have_count(count + 1, timeout=40_000)
    return await bubbles.last.inner_text()


async def visitor_customer(app: web.Application) -> int:
    """The customer behind the only web chat visitor."""

    async def find() -> int | None:
        async with app[RUNTIME].sessions() as session:
            return (
                await session.execute(
                    select(Identity.customer_id).where(Identity.channel == "webchat")
                )
            ).scalar_one_or_none()

    customer_id: int = await eventually(find, within=20)
    return customer_id


async def test_english_order_status_answered_by_the_bot(
    browser: Browser, service: tuple[str, web.Application]
) -> None:
    """An English visitor asks where their order is and reads its real status from the bot."""
    url, app = service
    page = await browser.new_page()
    await page.goto(url + "/demo?lang=en")
    await expect(page.locator("#tawasul-widget")).to_have_attribute("dir", "ltr")
    await page.locator(".tw-launcher").click()
    await say(page, "Hi there")
    greeting = await bot_says(page, 1)
    assert greeting.startswith("Hello!"), greeting
    customer_id = await visitor_customer(app)

    async def add(session: AsyncSession) -> None:
        session.add(
            Order(
                number="A-10234", customer_id=customer_id, status="shipped",
                total=Decimal("349.00"), currency="SAR", carrier="Aramex", items=[],
            )
        )  # fmt: skip

    await in_transaction(app[RUNTIME].sessions, add)
    await say(page, "Where is my order A-10234?")
    answer = await bot_says(page, 2)
    assert answer.startswith("Your order A-10234 is shipped."), answer
    assert "Aramex" in answer


async def test_arabic_greeting_and_opening_hours_answered_in_arabic(
    browser: Browser, service: tuple[str, web.Application]
) -> None:
    """An Arabic visitor greets and asks when support works; both answers come back in Arabic."""
    url, _ = service
    page = await browser.new_page()
    await page.goto(url + "/demo")
    await expect(page.locator("#tawasul-widget")).to_have_attribute("dir", "rtl")
    await page.locator(".tw-launcher").click()
    await say(page, "السلام عليكم")
    greeting = await bot_says(page, 1)
    assert greeting.startswith("أهلًا وسهلًا"), greeting
    await say(page, "وش أوقات الدوام عندكم اليوم؟")
    hours = await bot_says(page, 2)
    assert hours.startswith("خدمة العملاء متاحة من السبت إلى الخميس"), hours
