"""Teams and server-side unread counts in real headless Chromium."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from core import actions
from core.teams import do_add_team_member, do_create_team
from core.types import InboundMessage, Role
from tests.browser.conftest import Live, login

pytestmark = pytest.mark.browser


async def _escalated(live: Live, sender: str, text: str, name: str) -> int:
    r = await actions.do_ingest(
        live.rt, InboundMessage("memory", sender, f"{sender}-1", text, name)
    )
    await actions.do_escalate(live.rt, r.conversation_id, "customer_request")
    return r.conversation_id


async def test_agent_routes_a_conversation_to_a_team_in_arabic(
    live: Live, browser: Browser
) -> None:
    """Picking a team puts its chip on the header and the list item; "My teams" lists it; RTL."""
    sara = await live.agent("sara", language="ar")
    billing = await do_create_team(live.rt, "الفوترة")
    await do_create_team(live.rt, "الشحن")
    await do_add_team_member(live.rt, billing.id, sara)
    cid = await _escalated(live, "nora", "أبغى استرجاع المبلغ", "نورة")
    page = await login(browser, live, "sara", lang="ar")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator('[data-view="teams"]')).to_contain_text("فرقي")

    await page.click(f'.conv-item[data-id="{cid}"]')
    await page.select_option("#team-picker", label="الفوترة")
    await expect(page.locator("#conv-team")).to_have_text("الفوترة")
    await expect(page.locator("#timeline .msg-activity").last).to_contain_text(
        "حُوّلت إلى فريق الفوترة"
    )
    chip = page.locator(f'.conv-item[data-id="{cid}"] .team-chip')
    await expect(chip).to_have_text("الفوترة")
    await expect(page.locator('[data-view="teams"] .count')).to_have_text("1")

    await page.click('[data-view="teams"]')
    await expect(page.locator(".conv-item[data-id]")).to_have_count(1)
    await expect(page.locator(".conv-item[data-id]")).to_have_attribute("data-id", str(cid))
    await page.reload()
    await expect(page.locator("#conv-team")).to_have_text("الفوترة")
    await expect(page.locator("#team-picker")).to_have_value(str(billing.id))


async def test_unread_clears_on_open_and_stays_cleared_after_reload(
    live: Live, browser: Browser
) -> None:
    """Server counts show on load, bump live, clear when opened, and agree after a reload."""
    await live.agent("sara")
    quiet = await _escalated(live, "ali", "مرحبا", "علي")
    busy = await _escalated(live, "nora", "السلام عليكم", "نورة")
    await actions.do_ingest(live.rt, InboundMessage("memory", "nora", "nora-2", "وين طلبي؟"))
    page = await login(browser, live, "sara")
    busy_badge = page.locator(f'.conv-item[data-id="{busy}"] .unread')
    quiet_badge = page.locator(f'.conv-item[data-id="{quiet}"] .unread')
    await expect(busy_badge).to_have_text("2")
    await expect(quiet_badge).to_have_text("1")

    await page.click(f'.conv-item[data-id="{busy}"]')
    await expect(busy_badge).to_have_count(0)
    # A message in the open conversation is read at once; one elsewhere bumps live.
    await actions.do_ingest(live.rt, InboundMessage("memory", "nora", "nora-3", "؟"))
    await expect(page.locator("#timeline .msg-incoming")).to_have_count(3)
    await actions.do_ingest(live.rt, InboundMessage("memory", "ali", "ali-2", "أحد هنا؟"))
    await expect(quiet_badge).to_have_text("2")

    # Another device of the same agent (a fresh login) agrees, from the server alone.
    other = await login(browser, live, "sara")
    await expect(other.locator(f'.conv-item[data-id="{quiet}"] .unread')).to_have_text("2")
    await expect(other.locator(f'.conv-item[data-id="{busy}"]')).to_be_visible()
    await expect(other.locator(f'.conv-item[data-id="{busy}"] .unread')).to_have_count(0)
    await page.reload()
    await expect(page.locator(f'.conv-item[data-id="{quiet}"] .unread')).to_have_text("2")
    await expect(page.locator(f'.conv-item[data-id="{busy}"] .unread')).to_have_count(0)


async def test_supervisor_manages_teams(live: Live, browser: Browser) -> None:
    """Create, rename, add and remove a member, delete: each shows in the panel."""
    await live.agent("huda", Role.SUPERVISOR)
    await live.agent("omar")
    page = await login(browser, live, "huda", path="/supervisor")
    await page.fill("#team-new-name", "Shipping")
    await page.click("#team-create button[type=submit]")
    team = page.locator("#teams .team")
    await expect(team).to_have_count(1)
    await expect(team.locator(".team-rename")).to_have_value("Shipping")

    await team.locator(".team-rename").fill("الشحن")
    await team.locator(".rename-team").click()
    await expect(team.locator(".team-rename")).to_have_value("الشحن")
    await team.locator(".add-member").select_option(label="Omar")
    await expect(team.locator(".team-members li[data-agent]")).to_have_text(["Omar ×"])
    await team.locator(".remove-member").click()
    await expect(team.locator(".team-members li[data-agent]")).to_have_count(0)
    await team.locator(".delete-team").click()
    await team.locator(".delete-team").click()
    await expect(page.locator("#teams .team")).to_have_count(0)
