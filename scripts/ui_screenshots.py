"""Regenerate docs/screenshots: the demo data in real headless Chromium, English and Arabic.

PYTHONPATH=. .venv/bin/python scripts/ui_screenshots.py docs/screenshots
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select

from core import actions
from core.canned import do_save_canned
from core.csat import do_record_csat
from core.models import Conversation, Message
from core.settings import Settings
from core.types import InboundMessage, MessageKind, Sentiment, SentimentLabel
from inbox.app import create_app
from inbox.demo import DEMO_PASSWORD, seed
from inbox.keys import RUNTIME

SIZE = {"width": 1366, "height": 800}


def mood(label: SentimentLabel, anger: float) -> Sentiment:
    """A sentiment verdict as the scorer would give it."""
    rest = (1 - anger) / 3
    probs = {s.value: rest for s in SentimentLabel}
    probs["angry"] = anger
    return Sentiment(label, probs, anger, anger >= 0.5, "demo")


async def decorate(app: web.Application) -> None:
    """What the sentiment scorer, the bot and a few agents would have added to the demo."""
    rt = app[RUNTIME]
    async with rt.sessions() as session:
        incoming = (
            (await session.execute(select(Message).where(Message.kind == MessageKind.INCOMING)))
            .scalars()
            .all()
        )
    for m in incoming:
        if "محدش" in m.text or "متأخر" in m.text:
            await actions.do_record_sentiment(rt, m.id, mood(SentimentLabel.ANGRY, 0.88))
        elif "reset" in m.text:
            await actions.do_record_sentiment(rt, m.id, mood(SentimentLabel.NEGATIVE, 0.12))
        else:
            await actions.do_record_sentiment(rt, m.id, mood(SentimentLabel.NEUTRAL, 0.03))
    async with rt.sessions() as session:
        convs = (await session.execute(select(Conversation))).scalars().all()
    for conv in convs:
        if conv.sentiment == "angry":
            await actions.do_raise_alert(
                rt, conv.id, "anger", "Angry customer, anger 0.88", anger=0.88
            )
        if conv.status == "resolved":
            await do_record_csat(rt, conv.id, 5)
    ahmed = next(c for c in convs if c.sentiment == "angry")
    await actions.do_ingest(
        rt,
        InboundMessage(
            "telegram", "6022", "tg-6022-2", "<script>alert('hi')</script> هذا نص فقط", "أحمد منصور"
        ),
    )
    await actions.do_note(rt, ahmed.id, 2, "اتصلت بشركة الشحن: الشحنة في مستودع الرياض")
    await do_save_canned(
        rt.sessions,
        "refund",
        "Refund started / بدء الاسترجاع",
        "أهلًا {{customer.name}}، بدأنا إجراءات استرجاع المبلغ وسيصلك خلال ٥ أيام عمل.",
    )
    await do_save_canned(
        rt.sessions, "shipping", "Shipping times", "Hi {{customer.name}}, delivery takes 3-5 days."
    )


async def shoot(page: Page, path: Path) -> None:
    """A viewport screenshot, kept small."""
    await page.wait_for_timeout(400)
    data = await page.screenshot(path=str(path))
    print(f"{path} {len(data) // 1024} KB")


async def main(out: Path) -> None:
    """Seed, serve, drive Chromium, save the pictures."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=f"sqlite+aiosqlite:///{tmp}/demo.sqlite3"
        )
        await seed(settings)
        app = create_app(settings, steps=lambda *_: [])
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        await decorate(app)
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--disable-gpu", "--disable-quic"]
            )
            for lang in ("en", "ar"):
                page = await (await browser.new_context(viewport=SIZE)).new_page()
                await page.goto(url + "/")
                await page.evaluate("l => localStorage.setItem('tawasul.lang', l)", lang)
                await page.reload()
                await page.fill("#login-user", "huda")
                await page.fill("#login-password", DEMO_PASSWORD)
                await page.click("#login-form button[type=submit]")
                await page.click('#views [data-view="pending"]')
                await page.locator(".conv-item.angry").first.click()
                await page.wait_for_selector("#timeline .msg-note")
                await shoot(page, out / f"inbox-{lang}.png")
                second = page.locator(".conv-item[data-id]").nth(1)
                cid = await second.get_attribute("data-id")
                await second.click()
                # The composer is re-rendered when the conversation opens: type into the new one.
                await expect(page).to_have_url(f"{url}/#/c/{cid}")
                await page.wait_for_selector("#customer-edit")
                await page.fill("#reply-text", "/")
                await page.type("#reply-text", "re")
                await page.wait_for_selector("#canned-menu:not([hidden])")
                await shoot(page, out / f"conversation-canned-{lang}.png")
                await page.goto(url + "/supervisor")
                await page.wait_for_selector("#tiles .tile")
                await shoot(page, out / f"supervisor-{lang}.png")
                await page.locator("#teams .team").first.scroll_into_view_if_needed()
                await shoot(page, out / f"teams-{lang}.png")
            await browser.close()
        await runner.cleanup()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
