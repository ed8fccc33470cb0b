"""The console's Agents card in real headless Chromium: admins manage agents, supervisors read."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from core.accounts import do_update_agent
from core.types import Role
from tests.browser.conftest import Live, login

pytestmark = pytest.mark.browser


async def _sign_in(browser: Browser, live: Live, user: str, password: str) -> Page:
    """A fresh context on the login form, credentials submitted; the caller checks the outcome."""
    context = await browser.new_context(viewport={"width": 1366, "height": 800})
    page = await context.new_page()
    await page.goto(live.url + "/")
    await page.fill("#login-user", user)
    await page.fill("#login-password", password)
    await page.click("#login-form button[type=submit]")
    return page


async def test_admin_creates_an_agent_then_deactivates_them_and_their_login_fails(
    live: Live, browser: Browser
) -> None:
    """Create (a short password refused on the field first), edit, deactivate, reset, reactivate."""
    await live.agent("ada", Role.ADMIN)
    console = await login(browser, live, "ada", path="/supervisor")
    card = console.locator("#agents-card")
    await expect(card.locator("#agents-readonly")).to_be_hidden()

    await console.fill("#agent-new-login", "Layla")
    await console.fill("#agent-new-name", "Layla Q.")
    await console.select_option("#agent-new-language", "ar")
    await console.fill("#agent-new-password", "short")
    await console.click('#agent-create button[type="submit"]')
    await expect(console.locator(".toast").last).to_have_text(
        "The password needs at least 8 characters."
    )
    await expect(console.locator("#agent-new-password")).to_have_attribute("aria-invalid", "true")
    await expect(console.locator("#agent-new-password")).to_be_focused()
    await console.fill("#agent-new-password", "layla-pass-1")
    await console.click('#agent-create button[type="submit"]')
    await expect(console.locator(".toast").last).to_have_text("Layla Q. can now sign in as layla.")
    await expect(console.locator("#agent-new-login")).to_have_value("")
    row = card.locator("#agents tbody tr", has_text="layla")
    await expect(row.locator('[data-role="state"]')).to_have_text("Active")
    await expect(row.locator('[data-role="online"]')).to_have_text("Offline")

    # The new agent signs in; the console sees them online (after a reload: no event for it).
    layla = await _sign_in(browser, live, "layla", "layla-pass-1")
    await expect(layla.locator("#app")).to_be_visible()
    await layla.wait_for_selector('body[data-live="on"]', state="attached")
    await console.reload()
    await expect(row.locator('[data-role="online"]')).to_have_text("Online")

    # Rename and promote, saved from the row.
    await row.locator('[data-role="name-input"]').fill("Layla Qasim")
    await row.locator('[data-role="role-select"]').select_option("supervisor")
    await row.locator('[data-role="save"]').click()
    await expect(console.locator(".toast").last).to_have_text("Changes to Layla Qasim saved.")
    await expect(row.locator('[data-role="role-select"]')).to_have_value("supervisor")

    # Deactivate takes two clicks; the agent's open page goes back to the login form.
    toggle = row.locator('[data-role="toggle-active"]')
    await toggle.click()
    await expect(toggle).to_have_text("Really deactivate Layla Qasim?")
    await toggle.click()
    await expect(console.locator(".toast").last).to_have_text(
        "Layla Qasim is deactivated and signed out everywhere."
    )
    await expect(row).to_have_attribute("data-active", "false")
    await expect(row.locator('[data-role="state"]')).to_have_text("Deactivated")
    await expect(toggle).to_have_text("Reactivate")
    await expect(toggle).to_be_focused()  # the redraw keeps the keyboard on the row
    await expect(layla.locator("#login")).to_be_visible()
    # Their login now fails, with the right password.
    await layla.fill("#login-user", "layla")
    await layla.fill("#login-password", "layla-pass-1")
    await layla.click("#login-form button[type=submit]")
    await expect(layla.locator("#login-error")).to_have_text("Wrong username or password.")

    # Reset the password (Enter submits, a short one is refused), then reactivate.
    await row.locator('[data-role="reset"]').click()
    password = row.locator('[data-role="new-password"]')
    await expect(password).to_be_focused()
    await password.fill("1234")
    await password.press("Enter")
    await expect(console.locator(".toast").last).to_have_text(
        "The password needs at least 8 characters."
    )
    await expect(password).to_have_attribute("aria-invalid", "true")
    await password.fill("layla-pass-2")
    await password.press("Enter")
    await expect(console.locator(".toast").last).to_have_text(
        "New password set for Layla Qasim; their sessions were ended."
    )
    await expect(password).to_be_hidden()
    await expect(row.locator('[data-role="reset"]')).to_be_focused()
    await toggle.click()
    await expect(row.locator('[data-role="state"]')).to_have_text("Active")
    old = await _sign_in(browser, live, "layla", "layla-pass-1")
    await expect(old.locator("#login-error")).to_have_text("Wrong username or password.")
    new = await _sign_in(browser, live, "layla", "layla-pass-2")
    await expect(new.locator("#who")).to_have_text("Layla Qasim · supervisor")

    # A login that exists already is refused with words, on the field.
    await console.fill("#agent-new-login", "LAYLA")
    await console.fill("#agent-new-name", "Another")
    await console.fill("#agent-new-password", "another-pass")
    await console.click('#agent-create button[type="submit"]')
    await expect(console.locator(".toast").last).to_have_text("This login is already taken.")
    await expect(console.locator("#agent-new-login")).to_have_attribute("aria-invalid", "true")


async def test_supervisors_read_the_list_and_admins_get_arabic_refusals_rtl(
    live: Live, browser: Browser
) -> None:
    """A supervisor sees every agent (deactivated too) and no controls; an admin's own lockout
    is refused in Arabic; the card mirrors in RTL and the reset form works from the keyboard."""
    await live.agent("ada", Role.ADMIN, language="ar")
    await live.agent("huda", Role.SUPERVISOR)
    omar = await live.agent("omar")
    await do_update_agent(live.rt, omar, active=False)

    supervisor = await login(browser, live, "huda", path="/supervisor", lang="ar")
    card = supervisor.locator("#agents-card")
    await expect(card.locator("h2")).to_have_text("الموظفون")
    await expect(card.locator("#agents-readonly")).to_be_visible()
    await expect(card.locator("#agent-create")).to_be_hidden()
    await expect(card.locator("#agents tbody tr")).to_have_count(3)
    omar_row = card.locator(f'#agents tr[data-agent="{omar}"]')
    await expect(omar_row.locator('[data-role="state"]')).to_have_text("معطّل")
    assert await card.locator("#agents input, #agents select, #agents button").count() == 0

    admin = await login(browser, live, "ada", path="/supervisor", lang="ar")
    await expect(admin.locator("html")).to_have_attribute("dir", "rtl")
    me = admin.locator("#agents tbody tr", has_text="ada")
    await expect(me.locator("th")).to_contain_text("(أنت)")
    await expect(me.locator('[data-role="reset"]')).to_have_count(0)  # not my own, from here
    toggle = me.locator('[data-role="toggle-active"]')
    await toggle.click()
    await toggle.click()
    await expect(admin.locator(".toast").last).to_have_text(
        "لا يمكنك تعطيل حسابك أو التخلي عن صلاحية المدير بنفسك. اطلب ذلك من مدير آخر."
    )
    await expect(me.locator('[data-role="state"]')).to_have_text("نشط")
    await expect(toggle).to_have_text("تعطيل")

    # RTL: the login column is the rightmost, the actions the leftmost.
    row = admin.locator(f'#agents tr[data-agent="{omar}"]')
    login_box = await row.locator("th").bounding_box()
    acts_box = await row.locator(".agent-acts").bounding_box()
    assert login_box and acts_box and login_box["x"] > acts_box["x"]
    await expect(row.locator('[data-role="toggle-active"]')).to_have_text("إعادة التفعيل")

    # The reset form from the keyboard: Enter opens it on the field, Escape closes it.
    reset = row.locator('[data-role="reset"]')
    await reset.focus()
    await admin.keyboard.press("Enter")
    await expect(reset).to_have_attribute("aria-expanded", "true")
    password = row.locator('[data-role="new-password"]')
    await expect(password).to_be_focused()
    label = row.locator(".agent-reset label")
    await expect(label).to_have_text("كلمة المرور الجديدة للموظف Omar")
    assert await label.get_attribute("for") == await password.get_attribute("id")
    await admin.keyboard.press("Escape")
    await expect(password).to_be_hidden()
    await expect(reset).to_have_attribute("aria-expanded", "false")
    await expect(reset).to_be_focused()
