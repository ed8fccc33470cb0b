"""The supervisor console in real headless Chromium: the live alert feed and the metrics."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web
from playwright.async_api import Browser, expect

from core import actions
from core.models import Conversation, Message
from core.types import InboundMessage, Role, Sentiment, SentimentLabel
from core.webhooks import do_create_subscription
from inbox.app import create_app
from tests.browser.conftest import Live, login, serve
from tests.conftest import make_settings

pytestmark = pytest.mark.browser


async def test_anger_alert_reaches_the_supervisor_within_a_second(
    live: Live, browser: Browser
) -> None:
    """An angry message raises an alert that appears live on the console in under a second."""
    await live.agent("sara")
    await live.agent("huda", Role.SUPERVISOR)
    agent_page = await login(browser, live, "sara")
    console = await login(browser, live, "huda", path="/supervisor")
    await expect(console.locator("#tiles .tile").first).to_be_visible()
    await expect(console.locator("#alerts")).to_contain_text("No alerts")

    started = time.monotonic()
    result = await actions.do_ingest(
        live.rt,
        InboundMessage("telegram", "tg-9", "tg-9-1", "حسبي الله، ثالث مرة تتأخرون!", "سلمان"),
    )
    await actions.do_record_sentiment(
        live.rt,
        result.message_id,
        Sentiment(
            SentimentLabel.ANGRY,
            {"angry": 0.91, "negative": 0.07, "neutral": 0.01, "positive": 0.01},
            anger=0.91,
            angry=True,
            model="test",
        ),
    )
    await actions.do_raise_alert(
        live.rt,
        result.conversation_id,
        "anger",
        "angry message (anger 0.91)",
        anger=0.91,
        excerpt="حسبي الله، ثالث مرة تتأخرون! <img src=x onerror=alert(1)>",
    )
    alert = console.locator('.alert-item[data-kind="anger"]')
    await expect(alert).to_be_visible(timeout=1000)
    assert time.monotonic() - started < 1.0
    await expect(alert).to_have_attribute("data-conversation", str(result.conversation_id))
    await expect(alert.locator("a")).to_have_attribute("href", f"/#/c/{result.conversation_id}")
    await expect(alert).to_contain_text("سلمان")
    await expect(alert.locator("blockquote")).to_contain_text("<img src=x onerror=alert(1)>")
    assert await console.locator(".alerts img").count() == 0

    # A bot handoff shows up live too, with its reason in words.
    await actions.do_escalate(live.rt, result.conversation_id, "low_confidence")
    await actions.do_raise_alert(
        live.rt, result.conversation_id, "handoff", "bot handed over", reason="low_confidence"
    )
    handoff = console.locator('.alert-item[data-kind="handoff"]')
    await expect(handoff).to_contain_text("the bot was not sure")
    await console.wait_for_timeout(300)
    await expect(handoff).to_have_count(1)

    await alert.locator('[data-role="ack"]').click()
    await expect(alert).to_have_class("alert-item kind-anger acked")

    # The agent's inbox marks the message angry too.
    await agent_page.click('#views [data-view="all"]')
    await agent_page.click(f'.conv-item[data-id="{result.conversation_id}"]')
    await expect(
        agent_page.locator('#timeline .msg-incoming [data-sentiment="angry"]')
    ).to_be_visible()
    assert agent_page.url.endswith(f"#/c/{result.conversation_id}")


async def test_console_draws_metrics_and_exports_csv(live: Live, browser: Browser) -> None:
    """The metrics tiles, three charts and the CSV link reflect the stored conversations."""
    sara = await live.agent("sara")
    await live.agent("huda", Role.SUPERVISOR, language="ar")
    contained = await actions.do_ingest(
        live.rt, InboundMessage("telegram", "a", "a-1", "وين طلبي؟", "A")
    )
    await actions.do_resolve(live.rt, contained.conversation_id, agent_id=None)
    helped = await actions.do_ingest(live.rt, InboundMessage("email", "b", "b-1", "Help", "B"))
    await actions.do_escalate(live.rt, helped.conversation_id, "customer_request")
    await actions.do_reply(live.rt, helped.conversation_id, "Sure", agent_id=sara)
    await actions.do_resolve(live.rt, helped.conversation_id, agent_id=sara)

    page = await login(browser, live, "huda", path="/supervisor", lang="ar")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator('[data-metric="t_volume"] .v')).to_have_text("2")
    await expect(page.locator('[data-metric="t_containment"] .v')).to_have_text("50%")
    await expect(page.locator('[data-metric="t_csat"] .v')).to_have_text("لم يُجمع بعد")
    await expect(page.locator(".chart svg")).to_have_count(3)
    await expect(page.locator("#chart-reasons svg")).to_contain_text("طلب العميل التحدث مع موظف")
    href = await page.locator("#m-export").get_attribute("href")
    assert href is not None and href.startswith("/api/v1/metrics.csv?")
    csv_text = await page.evaluate("url => fetch(url).then(r => r.text())", href)
    assert csv_text.splitlines()[-1].split(",")[2:6] == ["total", "2", "2", "1"]

    # Over a year is refused by the server, and the console says why, in the page's language.
    await page.fill("#m-start", "2020-01-01")
    await page.click('#metrics-form button[type="submit"]')
    await expect(page.locator(".toast").last).to_have_text("اختر فترة لا تزيد على 366 يومًا.")


async def test_a_handoff_is_acknowledged_and_assigned_from_the_console(
    live: Live, browser: Browser
) -> None:
    """A bot handoff entry can be acknowledged (it stays so after a reload) and assigned."""
    sara = await live.agent("sara")
    await live.agent("huda", Role.SUPERVISOR)
    console = await login(browser, live, "huda", path="/supervisor")
    # Without a bot every conversation is escalated `no_bot`: no handoff entry for those.
    quiet = await actions.do_ingest(
        live.rt, InboundMessage("telegram", "tg-q", "tg-q-1", "مرحبا", "هادئ")
    )
    await actions.do_escalate(live.rt, quiet.conversation_id, "no_bot")
    first = await actions.do_ingest(
        live.rt, InboundMessage("telegram", "tg-h", "tg-h-1", "ابي اكلم موظف", "ريم")
    )
    await actions.do_escalate(live.rt, first.conversation_id, "customer_request")
    handoff = console.locator(
        f'.alert-item[data-kind="handoff"][data-conversation="{first.conversation_id}"]'
    )
    await expect(handoff).to_contain_text("the customer asked for a person")
    # Events arrive in order: the quiet escalation was seen (and skipped) before this one.
    quiet_entry = console.locator(f'.alert-item[data-conversation="{quiet.conversation_id}"]')
    await expect(quiet_entry).to_have_count(0)
    await handoff.locator('[data-role="ack"]').click()
    await expect(handoff).to_have_class("alert-item kind-handoff acked")
    await expect(handoff).to_contain_text("Acknowledged · Huda")
    await console.reload()
    await expect(handoff).to_have_class("alert-item kind-handoff acked")

    # Assigning from a handoff acknowledges it too, with no error on the way.
    second = await actions.do_ingest(
        live.rt, InboundMessage("telegram", "tg-i", "tg-i-1", "need a human", "Lina")
    )
    await actions.do_escalate(live.rt, second.conversation_id, "low_confidence")
    other = console.locator(
        f'.alert-item[data-kind="handoff"][data-conversation="{second.conversation_id}"]'
    )
    await other.locator('[data-role="assign"]').select_option(str(sara))
    await expect(other).to_have_class("alert-item kind-handoff acked")
    await expect(console.locator(".toast").first).to_contain_text("Assigned to Sara")
    await expect(console.locator(".toast", has_text="went wrong")).to_have_count(0)


async def test_an_sla_breach_appears_live_and_is_acknowledged(
    sqlite_url: str, browser: Browser
) -> None:
    """The service's own SLA check raises a breach that the open console shows at once."""
    settings = make_settings(
        sqlite_url, sla_first_response_minutes=0.02, sla_check_seconds=0.2
    )  # 1.2 s in the queue
    app = create_app(settings, migrate=False, steps=lambda *_: [])
    async with serve(app) as running:
        await running.agent("huda", Role.SUPERVISOR)
        console = await login(browser, running, "huda", path="/supervisor")
        r = await actions.do_ingest(
            running.rt, InboundMessage("telegram", "tg-s", "tg-s-1", "أحد هنا؟", "سعد")
        )
        await actions.do_escalate(running.rt, r.conversation_id, "customer_request")
        breach = console.locator('.alert-item[data-kind="sla_breach"]')
        await expect(breach).to_have_count(1, timeout=10_000)
        await expect(breach).to_have_attribute("data-conversation", str(r.conversation_id))
        await expect(breach.locator('[data-role="scope"]')).to_contain_text(
            "In the queue: no one picked it up within"
        )
        await expect(breach).to_contain_text("SLA breached")
        await breach.locator('[data-role="ack"]').click()
        await expect(breach).to_have_class("alert-item kind-sla_breach acked")
        await console.wait_for_timeout(600)  # a few more checks: still one breach
        await expect(breach).to_have_count(1)
        await console.context.close()  # an open page would hold the server's shutdown


async def test_admin_sees_a_paused_webhook_live_and_resumes_it(
    sqlite_url: str, browser: Browser
) -> None:
    """A failing endpoint is paused: admins get a toast and the row; Resume sends the backlog."""
    healthy, delivered = asyncio.Event(), asyncio.Event()

    async def endpoint(request: web.Request) -> web.Response:
        if not healthy.is_set():
            return web.Response(status=500, text="<b>down</b> for maintenance")
        delivered.set()
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", endpoint)
    settings = make_settings(
        sqlite_url, webhook_pause_after=1, webhook_poll_seconds=0.1, webhook_retry_seconds=60
    )
    async with (
        serve(receiver) as hook,
        serve(create_app(settings, migrate=False, steps=lambda *_: [])) as running,
    ):
        await running.agent("ada", Role.ADMIN)
        await running.agent("huda", Role.SUPERVISOR)
        url = f"{hook.url}/hook"
        sub = await do_create_subscription(running.rt, url, ["message.created"])

        supervisor = await login(browser, running, "huda", path="/supervisor")
        await expect(supervisor.locator("#tiles .tile").first).to_be_visible()
        await expect(supervisor.locator("#integrations-card")).to_be_hidden()

        console = await login(browser, running, "ada", path="/supervisor", lang="ar")
        row = console.locator(f'#webhooks tr[data-webhook="{sub.id}"]')
        await expect(row.locator('[data-role="state"]')).to_have_text("يعمل")
        await expect(row.locator("th")).to_contain_text(url)

        await actions.do_ingest(
            running.rt, InboundMessage("telegram", "tg-w", "tg-w-1", "مرحبا", "وليد")
        )
        await expect(console.locator(".toast").last).to_have_text(
            f"أُوقف الإرسال مؤقتًا بعد إخفاقات متكررة: {url}"
        )
        await expect(row).to_have_attribute("data-status", "paused")
        await expect(row.locator('[data-role="state"]')).to_have_text("موقوف مؤقتًا")
        await expect(row.locator('[data-role="failures"]')).to_have_text("1")
        # The endpoint's own words are shown as text, never as markup.
        await expect(row.locator('[data-role="last-error"]')).to_contain_text(
            "HTTP 500: <b>down</b> for maintenance"
        )
        assert await console.locator("#webhooks b").count() == 0

        await row.locator('[data-role="deliveries"]').click()
        delivery = console.locator("#webhook-deliveries li").first
        await expect(delivery).to_have_attribute("data-status", "pending")
        await expect(delivery).to_contain_text("message.created")

        healthy.set()
        await row.locator('[data-role="resume"]').click()
        await expect(row).to_have_attribute("data-status", "active")
        await expect(row.locator('[data-role="failures"]')).to_have_text("0")
        await expect(row.locator('[data-role="resume"]')).to_have_count(0)
        await asyncio.wait_for(delivered.wait(), 10)  # the owed delivery, sent on resume
        await row.locator('[data-role="deliveries"]').click()
        await expect(delivery).to_have_attribute("data-status", "delivered")
        # The supervisor got neither the toast nor the table.
        await expect(supervisor.locator(".toast", has_text="/hook")).to_have_count(0)
        for page in (supervisor, console):  # open pages would hold the server's shutdown
            await page.context.close()


# From the scorer's held-out set (never trained on): charged twice, nobody answers.
ANGRY_AR = "سحبتوا المبلغ مرتين من بطاقتي وما حد يرد! حرامية 😡"
# Recorded by the page itself, so the figure does not include Playwright's polling interval.
WATCH_ANGER = """() => new Promise((resolve) => {
  const seen = () => document.querySelector('.alert-item[data-kind="anger"]');
  if (seen()) { resolve(Date.now()); return; }
  new MutationObserver((_, obs) => { if (seen()) { obs.disconnect(); resolve(Date.now()); } })
    .observe(document.getElementById("alerts"), { childList: true, subtree: true });
})"""


async def test_a_real_angry_arabic_message_alerts_the_console(
    sqlite_url: str, browser: Browser
) -> None:
    """Through the bundled e5 scorer (offline): ingest to the alert in the page, well under 3 s."""
    settings = make_settings(sqlite_url, sentiment_enabled=True)
    async with serve(create_app(settings, migrate=False)) as running:
        await running.agent("huda", Role.SUPERVISOR)
        console = await login(browser, running, "huda", path="/supervisor")
        await expect(console.locator("#alerts")).to_contain_text("No alerts")
        appeared = asyncio.ensure_future(console.evaluate(WATCH_ANGER))

        started = time.time()
        result = await running.memory.receive("ar-angry", "m-1", ANGRY_AR)
        shown_at_ms = await asyncio.wait_for(appeared, 15)
        took = shown_at_ms / 1000 - started
        print(f"\nreal sentiment: ingest → anger alert in the console {took * 1000:.0f} ms")

        alert = console.locator('.alert-item[data-kind="anger"]')
        await expect(alert).to_have_attribute("data-conversation", str(result.conversation_id))
        await expect(alert.locator("blockquote")).to_contain_text("سحبتوا المبلغ مرتين")
        # The scorer's verdict drove it: the message is stored angry, the conversation escalated.
        async with running.rt.sessions() as session:
            message = await session.get(Message, result.message_id)
            conv = await session.get(Conversation, result.conversation_id)
        assert message is not None and message.sentiment_label == "angry"
        assert (message.meta or {}).get("sentiment_model") not in (None, "test")
        assert conv is not None and conv.escalation_reason == "anger"
        await console.context.close()  # an open page would hold the server's shutdown
    assert took < 3.0, f"ingest to alert took {took:.2f} s"
