"""Attachments in real headless Chromium: pick or drop files on the composer, see them sent."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from core import actions
from core.types import InboundMessage
from inbox.keys import FILES, SETTINGS
from tests.browser.conftest import Live, login
from tests.inbox.conftest import eventually

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n%%EOF\n"

DROP_PNG = """async () => {
  // A 1x1 PNG dropped onto the composer, as a file dragged from the desktop would be.
  const b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
    + "hgGAWjR9awAAAABJRU5ErkJggg==";
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], "صورة.png", { type: "image/png" }));
  const box = document.getElementById("composer");
  const init = { dataTransfer: dt, bubbles: true, cancelable: true };
  box.dispatchEvent(new DragEvent("dragover", init));
  box.dispatchEvent(new DragEvent("drop", init));
}"""


async def _customer(live: Live) -> int:
    """An escalated Arabic customer on the memory channel."""
    result = await actions.do_ingest(
        live.rt, InboundMessage("memory", "mem-9", "mem-9-1", "أرسلوا لي الفاتورة", "ريم")
    )
    await actions.do_escalate(live.rt, result.conversation_id, "customer_request")
    return result.conversation_id


async def test_agent_attaches_files_and_sees_them_in_the_timeline(
    live: Live, browser: Browser
) -> None:
    """Pick a PDF and drop a PNG: chips become ready, a disguised HTML file is refused in
    Arabic, and the reply shows both files as download links while memory gets the bytes."""
    await live.agent("sara")
    conv = await _customer(live)
    page = await login(browser, live, "sara", lang="ar")
    await page.locator(f'.conv-item[data-id="{conv}"]').click()
    await page.set_input_files(
        "#attach-input",
        files=[
            {"name": "فاتورة.pdf", "mimeType": "application/pdf", "buffer": PDF},
            {"name": "صفحة.png", "mimeType": "image/png", "buffer": b"<html><script>x()</script>"},
        ],
    )
    chips = page.locator("#attach-chips .chip")
    await expect(chips).to_have_count(2)
    await expect(chips.nth(0)).to_have_attribute("data-state", "ready")
    await expect(chips.nth(1)).to_have_attribute("data-state", "error")
    await expect(chips.nth(1).locator(".chip-error")).to_contain_text("لا يمكن إرسال هذا النوع")
    await chips.nth(1).locator(".chip-remove").click()
    await expect(chips).to_have_count(1)
    await page.evaluate(DROP_PNG)
    await expect(chips).to_have_count(2)
    await expect(chips.nth(1)).to_have_attribute("data-state", "ready")
    await expect(chips.nth(1).locator(".chip-name")).to_have_text("صورة.png")

    await page.fill("#reply-text", "تفضلي الفاتورة")
    await page.click("#send")
    outgoing = page.locator("#timeline .msg-outgoing")
    await expect(outgoing).to_have_count(1)
    links = outgoing.locator(".attachments a.file-link")
    await expect(links).to_have_count(2)
    await expect(links.nth(0)).to_contain_text("فاتورة.pdf")
    await expect(outgoing.locator(".attachments img")).to_have_count(1)
    await expect(chips).to_have_count(0)
    href = await links.nth(0).get_attribute("href")
    assert href is not None and href.startswith("/api/v1/files/")
    got = await page.evaluate(
        "async (u) => { const r = await fetch(u); return [r.status, r.headers.get('content-type'),"
        " Array.from(new Uint8Array(await r.arrayBuffer()))]; }",
        href,
    )
    assert got[0] == 200 and got[1] == "application/pdf" and bytes(got[2]) == PDF
    sent = await eventually(lambda: _files(live))
    assert [name for name, _ in sent] == ["فاتورة.pdf", "صورة.png"]
    assert sent[0][1] == PDF
    await expect(outgoing.locator(".delivery")).to_have_class("delivery sent")


async def _files(live: Live) -> list[tuple[str, bytes]] | None:
    sent = live.memory.files_sent
    return next(iter(sent.values()), None)


async def test_oversize_file_is_refused_before_upload_in_english(
    live: Live, browser: Browser
) -> None:
    """A file over the cap shows the size error at once and nothing reaches the store."""
    await live.agent("sara")
    conv = await _customer(live)
    live.app[FILES].max_bytes = 32
    page = await login(browser, live, "sara")
    await page.locator(f'.conv-item[data-id="{conv}"]').click()
    await page.set_input_files(
        "#attach-input", files=[{"name": "big.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    chip = page.locator("#attach-chips .chip")
    await expect(chip).to_have_attribute("data-state", "error")
    await expect(chip.locator(".chip-error")).to_have_text(
        "This file is over the size limit for attachments."
    )
    assert not (live.app[SETTINGS].files_dir / "uploads").exists()
