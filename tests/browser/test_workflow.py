"""Inbox moves beyond the basics, in real Chromium: canned responses, keys, history, merge."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from core import actions
from core.canned import do_save_canned
from core.types import InboundMessage, Role
from tests.browser.conftest import Live, login
from tests.inbox.conftest import eventually

pytestmark = pytest.mark.browser


async def test_canned_response_and_keyboard(live: Live, browser: Browser) -> None:
    """`/ref` + Enter inserts the filled-in canned reply; j moves down, Ctrl+Enter sends."""
    await live.agent("sara")
    await do_save_canned(live.rt.sessions, "refund", "Refund", "Hi {{customer.name}}, refund done.")
    first = await actions.do_ingest(live.rt, InboundMessage("memory", "a", "a-1", "one", "Amal"))
    second = await actions.do_ingest(live.rt, InboundMessage("memory", "b", "b-1", "two", "Badr"))
    for r in (first, second):
        await actions.do_escalate(live.rt, r.conversation_id, "customer_request")
    page = await login(browser, live, "sara")
    await page.click(f'.conv-item[data-id="{first.conversation_id}"]')
    await expect(page.locator("#conv-title")).to_have_text("Amal")
    await page.locator("#timeline").click()
    await page.keyboard.press("j")
    await expect(page.locator("#conv-title")).to_have_text("Badr")

    await page.keyboard.press("r")
    await expect(page.locator("#reply-text")).to_be_focused()
    await page.keyboard.type("/ref")
    await expect(page.locator("#canned-menu li")).to_have_count(1)
    await page.keyboard.press("Enter")
    await expect(page.locator("#reply-text")).to_have_value("Hi Badr, refund done.")
    await page.keyboard.press("Control+Enter")
    await eventually(lambda: _sent_to(live, "b"))
    assert live.memory.sent[-1].text == "Hi Badr, refund done."


async def _sent_to(live: Live, recipient: str) -> bool:
    return any(m.recipient_id == recipient for m in live.memory.sent)


async def test_supervisor_merges_and_sees_one_history(live: Live, browser: Browser) -> None:
    """Search, preview and confirm a merge; the earlier email talk joins the timeline."""
    await live.agent("huda", Role.SUPERVISOR)
    mail = await actions.do_ingest(
        live.rt, InboundMessage("email", "r@example.com", "<r1@x>", "Order late?", "Reem Email")
    )
    await actions.do_resolve(live.rt, mail.conversation_id, agent_id=None)
    tg = await actions.do_ingest(live.rt, InboundMessage("telegram", "55", "t-1", "وينه؟", "ريم"))
    await actions.do_escalate(live.rt, tg.conversation_id, "customer_request")

    page = await login(browser, live, "huda")
    await page.click(f'.conv-item[data-id="{tg.conversation_id}"]')
    await page.fill("#merge-search", "Reem")
    await page.press("#merge-search", "Enter")
    await page.locator("#merge-results button").click()
    await expect(page.locator("#merge-preview")).to_contain_text("1 channels, 1 conversations")
    await page.click("#merge-confirm")
    await expect(page.locator('#identities [data-channel="email"]')).to_be_visible()
    await expect(page.locator('#identities [data-channel="telegram"]')).to_be_visible()

    await page.click("#load-history")
    timeline = page.locator("#timeline")
    await expect(timeline.locator('.msg-incoming[data-channel="email"] .body')).to_have_text(
        "Order late?"
    )
    await expect(timeline.locator('.msg-incoming[data-channel="telegram"] .body')).to_have_text(
        "وينه؟"
    )
    await expect(timeline.locator(".msg-activity").last).to_contain_text("merged into")
