"""The agent inbox in real headless Chromium: queue order, timeline, reply, live, RTL, escaping."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, expect

from core import actions
from core.models import Conversation
from core.types import Attachment, ConversationStatus, InboundMessage, Role
from tests.browser.conftest import Live, login
from tests.inbox.conftest import eventually

pytestmark = pytest.mark.browser

ARABIC_TG = "السلام عليكم، طلبي A-10234 ما وصل"
ARABIC_MEM = "أبغى أكلم موظف لو سمحت"


async def _arabic_customer(live: Live) -> int:
    """An Arabic customer who wrote on Telegram, then on the memory channel; escalated."""
    profile = {"email": "noura@example.com"}
    await actions.do_ingest(
        live.rt,
        InboundMessage("telegram", "tg-77", "tg-77-1", ARABIC_TG, "نورة", sender_profile=profile),
    )
    result = await actions.do_ingest(
        live.rt,
        InboundMessage("memory", "mem-77", "mem-77-1", ARABIC_MEM, "نورة", sender_profile=profile),
    )
    await actions.do_escalate(live.rt, result.conversation_id, "customer_request")
    return result.conversation_id


async def _english_customer(live: Live) -> int:
    """A second, later escalation that must sort below the first in the pending view."""
    result = await actions.do_ingest(
        live.rt, InboundMessage("email", "bob@example.org", "<b1@x>", "Refund please", "Bob")
    )
    await actions.do_escalate(live.rt, result.conversation_id, "low_confidence")
    return result.conversation_id


async def test_agent_replies_on_the_cross_channel_timeline(live: Live, browser: Browser) -> None:
    """Pending lists the longest-waiting Arabic conversation first; a reply goes out on memory."""
    await live.agent("sara")
    arabic = await _arabic_customer(live)
    await asyncio.sleep(0.01)
    await _english_customer(live)
    page = await login(browser, live, "sara")

    first = page.locator(".conv-item[data-id]").first
    await expect(first).to_have_attribute("data-id", str(arabic))
    await expect(first.locator(".name")).to_have_text("نورة")
    await first.click()

    timeline = page.locator("#timeline")
    await expect(timeline.locator(".msg-incoming")).to_have_count(2)
    await expect(timeline.locator('.msg-incoming[data-channel="telegram"] .body')).to_have_text(
        ARABIC_TG
    )
    await expect(timeline.locator('.msg-incoming[data-channel="memory"] .body')).to_have_text(
        ARABIC_MEM
    )
    await expect(timeline.locator('.msg-incoming .badge[data-channel="telegram"]')).to_be_visible()
    await expect(timeline.locator(".msg-activity")).to_contain_text("asked for a person")

    await page.fill("#reply-text", "أهلًا نورة، أنا سارة وبساعدك الحين")
    await page.click("#send")
    outgoing = timeline.locator(".msg-outgoing")
    await expect(outgoing).to_have_count(1)
    await expect(outgoing.locator(".badge")).to_have_attribute("data-channel", "memory")
    await eventually(lambda: _sent(live))
    assert live.memory.sent[-1].text == "أهلًا نورة، أنا سارة وبساعدك الحين"
    assert live.memory.sent[-1].recipient_id == "mem-77"
    # The delivery receipt comes back over the WebSocket.
    await expect(outgoing.locator(".delivery")).to_have_class("delivery sent")
    await expect(page.locator("#conv-status")).to_have_text("Open")


async def _sent(live: Live) -> bool:
    return bool(live.memory.sent)


async def test_new_messages_and_typing_arrive_live(live: Live, browser: Browser) -> None:
    """A customer's message and a colleague's typing show up without a reload."""
    await live.agent("sara")
    omar = await live.agent("omar")
    conv = await _arabic_customer(live)
    page = await login(browser, live, "sara")
    await page.click(f'.conv-item[data-id="{conv}"]')
    await expect(page.locator("#timeline .msg-incoming")).to_have_count(2)

    await live.memory.receive("mem-77", "mem-77-2", "وينكم؟ صار لي ساعة")
    await expect(page.locator("#timeline .msg-incoming")).to_have_count(3)
    await expect(page.locator("#timeline .msg-incoming").last).to_contain_text("صار لي ساعة")

    from core.alerts import do_signal_typing
    from core.models import Agent

    async with live.rt.sessions() as session:
        agent = await session.get(Agent, omar)
    assert agent is not None
    await do_signal_typing(live.rt, conv, agent, "reply")
    await expect(page.locator("#typing")).to_have_text("Omar is replying…")


async def test_arabic_layout_is_mirrored_and_remembered(live: Live, browser: Browser) -> None:
    """Choosing Arabic sets dir=rtl, puts the list on the right, and survives a reload."""
    await live.agent("sara")
    await _arabic_customer(live)
    page = await login(browser, live, "sara")
    html = page.locator("html")
    await expect(html).to_have_attribute("dir", "ltr")
    ltr_list = await page.locator(".sidebar").bounding_box()
    ltr_conv = await page.locator("#conversation").bounding_box()
    assert ltr_list and ltr_conv and ltr_list["x"] < ltr_conv["x"]

    await page.click("#lang-switch")
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(html).to_have_attribute("lang", "ar")
    await expect(page.locator("body")).to_have_css("direction", "rtl")
    await expect(page.locator('#views [data-view="pending"]')).to_contain_text("غير مسندة")
    rtl_list = await page.locator(".sidebar").bounding_box()
    rtl_conv = await page.locator("#conversation").bounding_box()
    assert rtl_list and rtl_conv and rtl_list["x"] > rtl_conv["x"]

    await page.reload()
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(page.locator("#logout")).to_have_text("تسجيل الخروج")


async def test_customer_markup_renders_as_inert_text(live: Live, browser: Browser) -> None:
    """`<img onerror>` and `<script>` in names and messages show as text and never run."""
    await live.agent("sara")
    evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    files = (
        Attachment("file", name="<i>x</i>.pdf", url="javascript:window.__pwned=3"),
        Attachment("image", name="photo.jpg", url="https://files.example.com/photo.jpg"),
    )
    result = await actions.do_ingest(
        live.rt,
        InboundMessage(
            "memory",
            "evil",
            "evil-1",
            evil,
            '<b onmouseover="x()">Mallory</b>',
            attachments=files,
        ),
    )
    await actions.do_escalate(live.rt, result.conversation_id, "customer_request")
    page = await login(browser, live, "sara")
    item = page.locator(f'.conv-item[data-id="{result.conversation_id}"]')
    await expect(item.locator(".name")).to_have_text('<b onmouseover="x()">Mallory</b>')
    await item.click()
    body = page.locator("#timeline .msg-incoming .body")
    await expect(body).to_have_text(evil)
    await page.wait_for_timeout(300)
    assert await page.evaluate("window.__pwned === undefined")
    assert await page.locator("#timeline img, #timeline script, .conv-list img").count() == 0
    # Only http(s) attachment URLs become links; a javascript: URL stays plain text.
    links = page.locator("#timeline .attachments a")
    await expect(links).to_have_count(1)
    await expect(links).to_have_attribute("href", "https://files.example.com/photo.jpg")
    await expect(links).to_have_attribute("rel", "noopener noreferrer")
    await expect(page.locator("#timeline .attachments span")).to_contain_text("<i>x</i>.pdf")


VERIFIED_MAIL = b"""\
Authentication-Results: mx.tawasul.test; dmarc=pass header.from=customer.test
From: Bob <bob@customer.test>
To: support@tawasul.test
Subject: Re: refund
Message-ID: <bob-2@customer.test>
Content-Type: text/plain; charset=utf-8

Thanks, that worked.

On Mon, 23 Nov 2026, Tawasul Support <support@tawasul.test> wrote:
> <img src=x onerror="window.__pwned=1">Your refund is on its way.
"""


async def test_email_hints_unfold_the_full_mail_and_flag_an_unverified_sender(
    live: Live, browser: Browser
) -> None:
    """A cut mail unfolds to its full text (as text, its own direction); an unverified From is
    flagged with the server's check as the tooltip, in Arabic too; a verified one is not."""
    from pathlib import Path

    from connectors.email.parse import parse_mail

    await live.agent("sara")
    fixture = Path(__file__).parents[1] / "connectors/fixtures/email/reply_arabic_gmail.eml"
    arabic = parse_mail(fixture.read_bytes(), domain="tawasul.test").inbound
    verified = parse_mail(VERIFIED_MAIL, domain="tawasul.test").inbound
    assert arabic.raw["stripped"] and arabic.raw["from_verified"] is False
    assert verified.raw["stripped"] and verified.raw["from_verified"] is True
    first = await actions.do_ingest(live.rt, arabic)
    second = await actions.do_ingest(live.rt, verified)
    for result in (first, second):
        await actions.do_escalate(live.rt, result.conversation_id, "customer_request")

    page = await login(browser, live, "sara")
    await page.click(f'.conv-item[data-id="{first.conversation_id}"]')
    message = page.locator(f'#timeline .msg-incoming[data-id="{first.message_id}"]')
    await expect(message.locator(".body")).to_have_text("وصل الطلب اليوم، شكراً جزيلاً")
    badge = message.locator('[data-role="sender-unverified"]')
    await expect(badge).to_contain_text("sender not verified")
    await expect(badge).to_have_attribute(
        "title",
        "The receiving mail server did not confirm this sender's address. "
        "Its check: \u2066no Authentication-Results\u2069",  # isolated: reads LTR in Arabic too
    )
    # From the keyboard: the badge takes focus and shows the reason; the toggle opens the mail.
    await badge.focus()
    await page.keyboard.press("Tab")
    toggle = message.locator(".email-toggle")
    await expect(toggle).to_be_focused()
    full = message.locator(".full-email")
    await expect(toggle).to_have_text("Show full email")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(full).to_be_hidden()
    await page.keyboard.press("Enter")
    await expect(full).to_be_visible()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(toggle).to_have_text("Hide full email")
    await expect(full).to_have_attribute("dir", "auto")
    await expect(full).to_have_css("white-space", "pre-wrap")
    await expect(full).to_contain_text("أُرسلت من الـ iPhone")
    await expect(full).to_contain_text("> سيصل طلبك غداً إن شاء الله.")

    # Arabic: the words change, the mail stays open across the redraw.
    await page.click("#lang-switch")
    await expect(badge).to_contain_text("المرسل غير موثّق")
    await expect(badge).to_have_attribute(
        "title", re.compile("نتيجة الفحص: \u2066no Authentication")
    )
    await expect(full).to_be_visible()
    await expect(toggle).to_have_text("إخفاء الرسالة الكاملة")
    # Mirrored: the toggle sits at the right-hand (start) edge of the message.
    box, toggle_box = await message.bounding_box(), await toggle.bounding_box()
    assert box and toggle_box and toggle_box["x"] > box["x"] + box["width"] / 2
    await toggle.click()
    await expect(full).to_be_hidden()
    await expect(toggle).to_have_text("عرض الرسالة كاملة")

    # A verified sender: no badge; the quoted part is text, never markup.
    await page.click("#lang-switch")
    await page.click('#views [data-view="pending"]')
    await page.click(f'.conv-item[data-id="{second.conversation_id}"]')
    message = page.locator(f'#timeline .msg-incoming[data-id="{second.message_id}"]')
    await expect(message.locator(".body")).to_have_text("Thanks, that worked.")
    await expect(message.locator('[data-role="sender-unverified"]')).to_have_count(0)
    await message.locator(".email-toggle").click()
    await expect(message.locator(".full-email")).to_contain_text(
        '> <img src=x onerror="window.__pwned=1">Your refund is on its way.'
    )
    assert await page.locator("#timeline img").count() == 0
    assert await page.evaluate("window.__pwned === undefined")


async def test_assignment_by_someone_else_notifies(live: Live, browser: Browser) -> None:
    """A supervisor assigning me a conversation pops a notice and bumps my Mine count."""
    sara = await live.agent("sara")
    huda = await live.agent("huda", Role.SUPERVISOR)
    conv = await _arabic_customer(live)
    page = await login(browser, live, "sara")
    await expect(page.locator('#views [data-view="mine"] .count')).to_have_text("0")
    await actions.do_assign(live.rt, conv, sara, agent_id=huda)
    await expect(page.locator(".toast")).to_have_text("New conversation assigned to you: نورة")
    await expect(page.locator('#views [data-view="mine"] .count')).to_have_text("1")


async def test_unverified_contact_email_is_flagged_on_the_customer(
    live: Live, browser: Browser
) -> None:
    """An email a visitor typed (not vouched for) shows as an unverified identity, in Arabic too."""
    from core.visitors import do_record_contact

    await live.agent("sara", language="ar")
    result = await actions.do_ingest(
        live.rt, InboundMessage("memory", "mem-88", "mem-88-1", "ردوا علي بالإيميل", "سلمى")
    )
    await do_record_contact(live.rt, "memory", "mem-88", "salma@example.com")
    await actions.do_escalate(live.rt, result.conversation_id, "customer_request")
    page = await login(browser, live, "sara", lang="ar")
    await page.locator(f'.conv-item[data-id="{result.conversation_id}"]').click()
    identities = page.locator("#identities li")
    await expect(identities).to_have_count(2)
    await expect(identities.filter(has_text="salma@example.com")).to_contain_text("غير موثّق")
    await expect(identities.filter(has_text="mem-88")).not_to_contain_text("غير موثّق")
    await expect(page.locator("#timeline .msg-activity").first).to_contain_text("salma@example.com")


async def test_long_conversation_loads_earlier_messages(live: Live, browser: Browser) -> None:
    """A conversation opens on its newest 100 entries; "Load earlier messages" brings the rest."""
    await live.agent("sara")
    for n in range(130):
        result = await actions.do_ingest(
            live.rt, InboundMessage("memory", "long", f"long-{n}", f"message {n}", "Lena")
        )
    await actions.do_escalate(live.rt, result.conversation_id, "customer_request")
    page = await login(browser, live, "sara")
    await page.click(f'.conv-item[data-id="{result.conversation_id}"]')
    incoming = page.locator("#timeline .msg-incoming")
    await expect(incoming).to_have_count(99)  # 100 entries: the escalation line is the newest
    await expect(incoming.first).to_have_text(re.compile("message 31$"))
    await page.click("#load-earlier")
    await expect(incoming).to_have_count(130)
    await expect(incoming.first).to_have_text(re.compile("message 0$"))
    await expect(page.locator("#load-earlier")).to_have_count(0)
    # The entry the agent was looking at stays in view.
    await expect(page.locator("#timeline .msg-incoming", has_text="message 31")).to_be_in_viewport()


async def test_agent_edits_the_customer_from_the_panel(live: Live, browser: Browser) -> None:
    """The panel's form refuses a bad email on the field, then saves name, email and attribute."""
    await live.agent("sara")
    conv = await _arabic_customer(live)
    page = await login(browser, live, "sara")
    await page.click(f'.conv-item[data-id="{conv}"]')
    await page.click("#customer-edit")
    await page.fill("#ce-email", "noura-at-example")
    await page.click("#ce-save")
    await expect(page.locator("#ce-email")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#ce-error")).to_contain_text("Email")
    await page.fill("#ce-email", "noura.o@example.com")
    await page.fill("#ce-name", "نورة العتيبي")
    await page.fill("#ce-new-key", "plan")
    await page.fill("#ce-new-value", "gold")
    await page.click("#ce-save")
    await expect(page.locator("#customer-form")).to_have_count(0)
    await expect(page.locator("#customer-name")).to_have_text("نورة العتيبي")
    await expect(page.locator("#conv-title")).to_have_text("نورة العتيبي")
    await expect(page.locator("#customer dd", has_text="noura.o@example.com")).to_have_count(1)
    await expect(page.locator("#customer dd", has_text="gold")).to_have_count(1)
    await expect(page.locator("#timeline .msg-activity").last).to_contain_text("Customer details")


async def test_page_returns_to_login_when_the_session_is_revoked(
    live: Live, browser: Browser
) -> None:
    """Deactivating an agent closes their socket (4401) and their page shows the login form."""
    from core.accounts import do_update_agent

    sara = await live.agent("sara")
    page = await login(browser, live, "sara")
    await do_update_agent(live.rt, sara, active=False)
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#app")).to_be_hidden()


async def test_activity_lines_read_in_arabic(live: Live, browser: Browser) -> None:
    """In the Arabic UI escalation, alert, assignment and edit lines are Arabic, not server text."""
    sara = await live.agent("sara", language="ar")
    huda = await live.agent("huda", Role.SUPERVISOR)
    result = await actions.do_ingest(
        live.rt, InboundMessage("memory", "mem-9", "mem-9-1", "وش هالخدمة؟!", "خالد")
    )
    cid = result.conversation_id
    await actions.do_escalate(
        live.rt,
        cid,
        "anger",
        detail="angry message (anger 0.88)",
        facts={"anger": 0.88},
        only_from=(ConversationStatus.BOT,),
    )
    await actions.do_raise_alert(live.rt, cid, "anger", "angry message (anger 0.88)", anger=0.88)
    await actions.do_assign(live.rt, cid, sara, agent_id=huda)
    await actions.do_update_customer(live.rt, result.customer_id, {"email": "k@example.com"})
    page = await login(browser, live, "sara", lang="ar")
    # Every string the pages use exists in Arabic too.
    missing = await page.evaluate(
        "import('/static/ui/i18n.js').then(m => "
        "Object.keys(m.STRINGS.en).filter(k => !(k in m.STRINGS.ar)))"
    )
    assert missing == []
    await page.click('#views [data-view="mine"]')
    await page.click(f'.conv-item[data-id="{cid}"]')
    lines = page.locator("#timeline .msg-activity")
    await expect(lines).to_have_count(4)
    await expect(lines.nth(0)).to_contain_text("حُوّلت إلى موظف: العميل غاضب (الغضب 88٪)")
    await expect(lines.nth(1)).to_contain_text("تنبيه: عميل غاضب (الغضب 88٪)")
    await expect(lines.nth(2)).to_contain_text("أُسندت إلى Sara")
    await expect(lines.nth(3)).to_contain_text("عُدّلت بيانات العميل: البريد")
    for english in ("Escalated", "angry message", "Assigned", "Alert", "Customer details"):
        await expect(page.locator("#timeline")).not_to_contain_text(english)


async def test_admin_erases_a_customer_after_typing_the_number(
    live: Live, browser: Browser
) -> None:
    """Only admins get the button; the dialog waits for the id; both pages then show it erased."""
    await live.agent("sara")
    await live.agent("root", Role.ADMIN, language="ar")
    conv = await _arabic_customer(live)
    async with live.rt.sessions() as session:
        found = await session.get(Conversation, conv)
        assert found is not None
        cid = found.customer_id
    agent = await login(browser, live, "sara")
    await agent.click(f'.conv-item[data-id="{conv}"]')
    await expect(agent.locator("#customer-name")).to_have_text("نورة")
    await expect(agent.locator("#customer-erase")).to_have_count(0)
    admin = await login(browser, live, "root", lang="ar")
    await admin.click(f'.conv-item[data-id="{conv}"]')
    await expect(admin.locator("#timeline")).to_contain_text(ARABIC_TG)
    await admin.click("#customer-erase")
    dialog = admin.locator("#erase-dialog")
    await expect(dialog).to_contain_text(f"للتأكيد اكتب رقم العميل: {cid}")
    await admin.fill("#erase-reason", "GDPR request #5")
    await admin.fill("#erase-confirm", str(cid + 1))
    await expect(admin.locator("#erase-submit")).to_be_disabled()
    await admin.fill("#erase-confirm", str(cid))
    await expect(admin.locator("#erase-submit")).to_be_enabled()
    await admin.click("#erase-submit")
    await expect(dialog).to_have_count(0)
    await expect(admin.locator("#customer-erased")).to_be_visible()
    await expect(admin.locator("#customer-name")).to_have_text(f"عميل محذوفة بياناته رقم {cid}")
    await expect(admin.locator("#customer-edit")).to_have_count(0)
    await expect(admin.locator("#customer-erase")).to_have_count(0)
    await expect(admin.locator("#identities")).not_to_contain_text("tg-77")
    await expect(admin.locator("#timeline")).not_to_contain_text(ARABIC_TG)
    await expect(admin.locator("#timeline .msg-activity").last).to_contain_text(
        "حذف Root بيانات العميل (GDPR request #5)"
    )
    await expect(admin.locator("#conv-list")).not_to_contain_text(ARABIC_MEM)
    # The agent's open page follows live, in English.
    await expect(agent.locator("#customer-name")).to_have_text(f"Erased customer #{cid}")
    await expect(agent.locator("#timeline")).not_to_contain_text(ARABIC_MEM)
    await expect(agent.locator("#timeline .msg-activity").last).to_contain_text(
        "Root erased the customer's data (GDPR request #5)"
    )
