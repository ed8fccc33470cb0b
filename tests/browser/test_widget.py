"""The web chat widget in a real headless Chromium, against the real service."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, expect

from connectors.webchat import WebchatConnector
from core.accounts import do_create_agent
from core.actions import do_reply
from core.pipeline import StepContext
from core.settings import Settings
from core.types import Author, Role
from inbox.app import create_app
from inbox.keys import CONNECTORS, FILES, RUNTIME
from tests.conftest import make_settings
from tests.inbox.conftest import eventually

pytestmark = pytest.mark.browser

BOT_REPLY = "أهلاً بك! سيرد عليك أحد موظفينا قريباً."
EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


class GreeterBot:
    """A stand-in bot: answers the first customer message of a conversation in Arabic."""

    name = "greeter-bot"

    async def __call__(self, ctx: StepContext) -> None:
        """Greet once per conversation."""
        if ctx.conversation.first_response_at is None and not ctx.conversation.bot_state:
            await do_reply(ctx.rt, ctx.conversation.id, BOT_REPLY, author=Author.BOT)


def bot_steps(settings: Settings, http: Any = None) -> Sequence[GreeterBot]:
    """The pipeline with the stand-in bot."""
    return [GreeterBot()]


@dataclass
class Service:
    """The service listening on a loopback port, with an agent's token."""

    url: str
    app: web.Application
    agent_headers: dict[str, str]

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the agents' API."""
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path, json=body, headers=self.agent_headers) as resp,
        ):
            assert resp.status < 300, await resp.text()
            return await resp.json()


@pytest.fixture
async def service(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    """The full service with the web chat channel on a real port."""
    monkeypatch.setenv("WEBCHAT_SITES", json.dumps({"demo": {"origins": ["self"]}}))
    app = create_app(
        make_settings(sqlite_url, channels="memory,webchat"), steps=bot_steps, migrate=False
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    await do_create_agent(app[RUNTIME].sessions, "huda", "Huda", "password123", Role.SUPERVISOR)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url + "/api/v1/auth/login", json={"login": "huda", "password": "password123"}
        ) as resp,
    ):
        token = (await resp.json())["token"]
    yield Service(url, app, {"Authorization": f"Bearer {token}"})
    await runner.cleanup()


async def say(page: Page, text: str) -> None:
    """Type a message in the widget and press Enter."""
    box = page.locator("#tawasul-widget textarea")
    await box.fill(text)
    await box.press("Enter")


async def conversation(service: Service) -> Any:
    """The single web chat conversation with its messages."""
    items = (await service.api("GET", "/api/v1/conversations?channel=webchat"))["items"]
    assert len(items) == 1
    return await service.api("GET", f"/api/v1/conversations/{items[0]['id']}")


async def test_visitor_chats_in_arabic_with_bot_and_agent_and_keeps_history(
    browser: Browser, service: Service
) -> None:
    """Arabic in, bot reply out, live agent reply, RTL panel, history after reload."""
    page = await browser.new_page()
    await page.goto(service.url + "/demo")
    widget = page.locator("#tawasul-widget")
    await expect(widget).to_have_attribute("dir", "rtl")
    await page.locator(".tw-launcher").click()
    panel = page.locator(".tw-panel")
    await expect(panel).to_be_visible()
    await expect(panel).to_have_css("direction", "rtl")
    await expect(page.locator(".tw-title")).to_have_text("تواصل معنا")

    await say(page, "مرحباً، أين طلبي رقم 1042؟")
    await expect(page.locator(".tw-visitor .tw-text")).to_have_text(["مرحباً، أين طلبي رقم 1042؟"])
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text(BOT_REPLY)

    conv = await conversation(service)
    await service.api(
        "POST", f"/api/v1/conversations/{conv['conversation']['id']}/reply",
        {"text": "أنا هدى من فريق الدعم، طلبك خرج للتوصيل اليوم."},
    )  # fmt: skip
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text(
        "أنا هدى من فريق الدعم، طلبك خرج للتوصيل اليوم."
    )

    await page.reload()
    await expect(page.locator(".tw-panel")).to_be_visible()
    texts = page.locator(".tw-log .tw-text")
    await expect(texts).to_have_text(
        [
            "مرحباً، أين طلبي رقم 1042؟",
            BOT_REPLY,
            "أنا هدى من فريق الدعم، طلبك خرج للتوصيل اليوم.",
        ]
    )
    import os

    if shot := os.environ.get("WIDGET_SCREENSHOT"):
        await page.screenshot(path=shot)


async def test_typed_markup_stays_text(browser: Browser, service: Service) -> None:
    """A visitor's <script> shows as text in the widget and reaches agents unchanged, inert."""
    page = await browser.new_page()
    await page.goto(service.url + "/demo?lang=en")
    await expect(page.locator("#tawasul-widget")).to_have_attribute("dir", "ltr")
    await page.locator(".tw-launcher").click()
    await say(page, EVIL)
    await expect(page.locator(".tw-visitor .tw-text")).to_have_text([EVIL])
    await expect(page.locator(".tw-visitor img")).to_have_count(0)
    await expect(page.locator(".tw-pending")).to_have_count(0)  # acked: stored by the service
    conv = await conversation(service)
    incoming = [m for m in conv["messages"] if m["kind"] == "incoming"]
    assert incoming[0]["text"] == EVIL
    # The agent's answer quoting the markup is text in the visitor's page too.
    await service.api(
        "POST", f"/api/v1/conversations/{conv['conversation']['id']}/reply",
        {"text": f"You wrote: {EVIL}"},
    )  # fmt: skip
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text(f"You wrote: {EVIL}")
    assert await page.evaluate("window.__pwned") is None


async def test_messages_typed_while_offline_are_delivered_once(
    browser: Browser, service: Service
) -> None:
    """During a network loss messages queue; after reconnecting each is stored exactly once."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(service.url + "/demo")
    await page.locator(".tw-launcher").click()
    await say(page, "الرسالة الأولى")
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text(BOT_REPLY)

    connector = service.app[CONNECTORS]["webchat"]
    assert isinstance(connector, WebchatConnector)
    await context.set_offline(True)
    for sockets in list(connector.sockets.values()):
        for ws in list(sockets):
            await ws.close()
    await expect(page.locator(".tw-status")).to_be_visible()
    await say(page, "كتبتها أثناء الانقطاع")
    await say(page, "وهذه أيضاً")
    await expect(page.locator(".tw-pending")).to_have_count(2)
    await context.set_offline(False)
    await expect(page.locator(".tw-pending")).to_have_count(0, timeout=15_000)

    async def stored() -> Any:
        conv = await conversation(service)
        texts = [m["text"] for m in conv["messages"] if m["kind"] == "incoming"]
        return texts if len(texts) >= 3 else None

    texts = await eventually(stored, within=10)
    assert texts == ["الرسالة الأولى", "كتبتها أثناء الانقطاع", "وهذه أيضاً"]
    await page.reload()
    await expect(page.locator(".tw-visitor .tw-text")).to_have_count(3)
    await context.close()


async def test_http_fallback_when_websockets_are_blocked(
    browser: Browser, service: Service
) -> None:
    """With WebSockets refused (a strict proxy), the widget still sends and receives over HTTP."""
    page = await browser.new_page()
    refused: list[str] = []

    async def refuse(ws: Any) -> None:
        refused.append(ws.url)
        await ws.close(code=1011, reason="blocked by proxy")

    await page.route_web_socket("**/channels/webchat/ws*", refuse)
    await page.goto(service.url + "/demo")
    await page.locator(".tw-launcher").click()
    await say(page, "هل يعمل بدون ويب سوكت؟")
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text(BOT_REPLY, timeout=20_000)
    conv = await conversation(service)
    await service.api(
        "POST", f"/api/v1/conversations/{conv['conversation']['id']}/reply", {"text": "نعم"}
    )
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text("نعم", timeout=10_000)
    assert len(refused) >= 3
    texts = [
        m["text"] for m in (await conversation(service))["messages"] if m["kind"] == "incoming"
    ]
    assert texts == ["هل يعمل بدون ويب سوكت؟"]


async def test_closed_panel_shows_unread_replies(browser: Browser, service: Service) -> None:
    """A reply arriving while the panel is closed shows a count on the launcher until opened."""
    page = await browser.new_page()
    await page.goto(service.url + "/demo")
    launcher = page.locator(".tw-launcher")
    await launcher.click()
    await say(page, "سؤال سريع")
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text(BOT_REPLY)
    await page.locator(".tw-close").click()
    conv = await conversation(service)
    await service.api(
        "POST", f"/api/v1/conversations/{conv['conversation']['id']}/reply", {"text": "تفضل"}
    )
    await expect(launcher).to_have_attribute("data-unread", "1")
    await launcher.click()
    await expect(launcher).not_to_have_attribute("data-unread", "1")
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text("تفضل")


async def test_agent_typing_shows_in_the_widget_until_the_reply(
    browser: Browser, service: Service
) -> None:
    """An agent writing a reply shows "يكتب الآن…" in the Arabic widget; the reply hides it."""
    page = await browser.new_page()
    await page.goto(service.url + "/demo")
    await page.locator(".tw-launcher").click()
    await say(page, "عندي سؤال عن الإرجاع")
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text(BOT_REPLY)
    typing = page.locator(".tw-typing")
    await expect(typing).to_be_hidden()
    conv_id = (await conversation(service))["conversation"]["id"]
    await service.api("POST", f"/api/v1/conversations/{conv_id}/typing", {"mode": "reply"})
    await expect(typing).to_be_visible()
    await expect(typing).to_have_text("يكتب الآن…")
    await service.api("POST", f"/api/v1/conversations/{conv_id}/reply", {"text": "أكيد، تفضل"})
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text("أكيد، تفضل")
    await expect(typing).to_be_hidden()


async def test_continue_on_telegram_link(browser: Browser, service: Service) -> None:
    """With a bot configured the open panel offers a t.me deep link; without one, nothing."""
    page = await browser.new_page()
    await page.goto(service.url + "/demo?lang=en")
    await page.locator(".tw-launcher").click()
    await expect(page.locator(".tw-title")).to_have_text("Chat with us")
    await expect(page.locator(".tw-telegram")).to_be_hidden()

    connector = service.app[CONNECTORS]["webchat"]
    assert isinstance(connector, WebchatConnector)
    connector.telegram_bot = "tawasul_test_bot"
    page = await browser.new_page()
    await page.goto(service.url + "/demo?lang=en")
    link = page.locator(".tw-telegram")
    await expect(link).to_be_hidden()
    await page.locator(".tw-launcher").click()
    await expect(link).to_be_visible()
    await expect(link).to_have_text("Continue on Telegram")
    await expect(link).to_have_attribute(
        "href", re.compile(r"^https://t\.me/tawasul_test_bot\?start=c\d+_[0-9a-f]+_[0-9a-f]{24}$")
    )
    await expect(link).to_have_attribute("rel", "noopener noreferrer")


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a2dd6b3c0000000049454e44ae426082"
)


async def test_agents_file_shows_as_a_link_only_this_visitor_can_use(
    browser: Browser, service: Service
) -> None:
    """A file from the agent appears as a named link (and a thumbnail) that downloads the bytes;
    a link altered for another visitor is refused; after a reload history brings the link."""
    page = await browser.new_page()
    await page.goto(service.url + "/demo")
    await page.locator(".tw-launcher").click()
    await say(page, "ممكن صورة الإيصال؟")
    await expect(page.locator(".tw-agent .tw-text").last).to_have_text(BOT_REPLY)
    conv = await conversation(service)
    stored = await service.app[FILES].put(PNG_1PX, "إيصال الدفع.png", "image/png")
    await service.api(
        "POST", f"/api/v1/conversations/{conv['conversation']['id']}/reply",
        {"attachments": [stored.id]},
    )  # fmt: skip
    link = page.locator(".tw-agent a.tw-file").last
    await expect(link).to_have_text("📎 إيصال الدفع.png")
    await expect(link.locator("img.tw-thumb")).to_have_count(1)
    href = await link.get_attribute("href")
    assert href is not None and f"/channels/webchat/files/{stored.key}?" in href
    got = await page.evaluate(
        "async (u) => { const r = await fetch(u); return [r.status,"
        " Array.from(new Uint8Array(await r.arrayBuffer()))]; }",
        href,
    )
    assert got[0] == 200 and bytes(got[1]) == PNG_1PX
    forged = href.replace("for=demo", "for=other")
    assert await page.evaluate("async (u) => (await fetch(u)).status", forged) == 403
    await page.reload()
    await expect(page.locator(".tw-agent a.tw-file")).to_have_count(1)
