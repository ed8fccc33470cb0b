"""The email channel end to end against a real Dovecot (IMAP) and a real SMTP sink."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from connectors.email import EmailConnector, imap
from connectors.email.store import MailStore
from core.actions import do_ingest, do_reply
from core.models import Identity
from core.pipeline import StepContext
from core.settings import Settings
from core.types import Author, InboundMessage, MessageKind, Role
from inbox.app import create_app
from inbox.keys import CONNECTORS, RUNTIME
from tests.conftest import make_settings
from tests.connectors.conftest import Dovecot, SmtpSink, eml, env_for_email, free_port
from tests.inbox.conftest import eventually, login_as

Client = TestClient  # type: ignore[type-arg]
AppFactory = Callable[..., Awaitable[Client]]


class EchoBot:
    """A bot that answers every customer message (what a real bot would do, carelessly)."""

    name = "echo-bot"

    async def __call__(self, ctx: StepContext) -> None:
        """Reply to the stored message."""
        await do_reply(ctx.rt, ctx.conversation.id, "شكراً لرسالتك", author=Author.BOT)


def echo_steps(settings: Settings, http: Any = None) -> Sequence[EchoBot]:
    """The pipeline with only the careless bot."""
    return [EchoBot()]


@pytest.fixture
def mailbox(dovecot: Dovecot) -> tuple[str, str]:
    """A fresh IMAP user on the private Dovecot."""
    return dovecot.add_user()


async def email_app(
    aiohttp_client: AppFactory, sqlite_url: str, *, bot: bool = False, **settings: Any
) -> Client:
    """The service with the email channel configured from the environment."""
    app = create_app(
        make_settings(sqlite_url, channels="memory,email", delivery_max_attempts=2, **settings),
        migrate=False,
        **({"steps": echo_steps} if bot else {}),
    )
    return await aiohttp_client(app)


def connector(client: Client) -> EmailConnector:
    """The app's email connector."""
    found = client.app[CONNECTORS]["email"]
    assert isinstance(found, EmailConnector)
    return found


async def timeline(client: Client, headers: dict[str, str], conversation_id: int) -> Any:
    """A conversation with its messages, through the agents' API."""
    resp = await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)
    assert resp.status == 200
    return await resp.json()


async def only_conversation(client: Client, headers: dict[str, str]) -> int:
    """The id of the single conversation, once there is one."""

    async def check() -> int | None:
        resp = await client.get("/api/v1/conversations?channel=email", headers=headers)
        items = (await resp.json())["items"]
        return items[0]["id"] if items else None

    return int(await eventually(check, within=10))


async def incoming(client: Client, headers: dict[str, str], conv: int, count: int) -> list[Any]:
    """The conversation's incoming messages, once there are ``count`` of them."""

    async def check() -> list[Any] | None:
        messages = (await timeline(client, headers, conv))["messages"]
        found = [m for m in messages if m["kind"] == MessageKind.INCOMING]
        return found if len(found) >= count else None

    return list(await eventually(check, within=10))


async def test_arabic_mail_reply_and_customer_answer_thread_together(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """windows-1256 mail shows in Arabic; our reply threads; the customer's answer joins it."""
    user, password = mailbox
    env_for_email(
        monkeypatch, tmp_path,
        imap_urls=f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/INBOX",
        imap_poll_seconds=3600, smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}",
    )  # fmt: skip
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    await eventually(lambda: _true(connector(client).watchers[0].connected.is_set()))
    # Delivered after the watcher is in IDLE: with polling at an hour, only IDLE can see it.
    dovecot.deliver(user, eml("arabic_windows1256.eml"))
    conv = await only_conversation(client, headers)
    (first,) = await incoming(client, headers, conv, 1)
    assert first["text"].startswith("السلام عليكم،\nطلبي رقم 1042 لم يصل بعد")
    data = await timeline(client, headers, conv)
    assert data["customer"]["display_name"] == "أحمد العتيبي"
    assert data["customer"]["email"] == "ahmed@customer.test"
    await eventually(lambda: _true(dovecot.seen_count(user) == 1))

    resp = await client.post(
        f"/api/v1/conversations/{conv}/reply", json={"text": "سيصل طلبك غداً."}, headers=headers
    )
    assert resp.status == 201
    await eventually(lambda: _true(len(smtp_sink.received) == 1))
    envelope, sent = smtp_sink.received[0]
    assert envelope.rcpt_tos == ["ahmed@customer.test"]
    assert sent["In-Reply-To"] == "<cp1256-0001@customer.test>"
    assert "<cp1256-0001@customer.test>" in sent["References"]
    assert sent["Subject"] == "Re: استفسار عن الطلب 1042"
    html = sent.get_body(("html",))
    plain = sent.get_body(("plain",))
    assert html is not None and plain is not None
    assert 'dir="rtl"' in html.get_content()
    assert plain.get_content().strip() == "سيصل طلبك غداً."
    our_id = sent["Message-ID"]

    async def delivered() -> bool:
        messages = (await timeline(client, headers, conv))["messages"]
        out = [m for m in messages if m["kind"] == MessageKind.OUTGOING]
        return bool(out) and out[0]["delivery_status"] == "sent"

    await eventually(delivered)

    reply = eml("reply_arabic_gmail.eml").replace(b"{in_reply_to}", our_id.encode())
    dovecot.deliver(user, reply)
    messages = await incoming(client, headers, conv, 2)
    assert messages[1]["text"] == "وصل الطلب اليوم، شكراً جزيلاً"
    assert messages[1]["conversation_id"] == conv
    assert messages[1]["meta"]["raw"]["original_text"].endswith("سيصل طلبك غداً إن شاء الله.")
    assert messages[1]["meta"]["raw"]["stripped"] is True
    assert first["meta"]["raw"]["stripped"] is False
    # The customer's timeline (all conversations) carries the kept-aside text the same way.
    resp = await client.get(f"/api/v1/customers/{data['customer']['id']}/timeline", headers=headers)
    items = [m for m in (await resp.json())["items"] if m["id"] == messages[1]["id"]]
    assert items[0]["meta"]["raw"]["original_text"] == messages[1]["meta"]["raw"]["original_text"]

    # The same mail again (a second copy in the mailbox) is not a second message.
    dovecot.deliver(user, reply)
    await eventually(lambda: _true(dovecot.seen_count(user) == 3))
    assert len(await incoming(client, headers, conv, 2)) == 2


def _true(value: bool) -> Awaitable[bool]:
    """Wrap a plain condition for `eventually`."""

    async def check() -> bool:
        return value

    return check()


async def test_auto_reply_is_never_answered_but_agents_still_answer_the_customer(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Even an eager bot never answers an out-of-office; an agent's reply threads past it."""
    env_for_email(monkeypatch, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}")
    client = await email_app(aiohttp_client, sqlite_url, bot=True)
    headers = await login_as(client, "sara", Role.AGENT)
    assert await connector(client).accept(eml("auto_reply.eml"))
    conv = await only_conversation(client, headers)
    (auto,) = await incoming(client, headers, conv, 1)
    assert auto["meta"]["raw"]["automated"] == "auto-submitted: auto-replied"

    async def outgoing(status: str, count: int) -> Any:
        messages = (await timeline(client, headers, conv))["messages"]
        out = [m for m in messages if m["kind"] == MessageKind.OUTGOING]
        done = [m for m in out if m["delivery_status"] == status]
        return done if len(done) >= count else None

    (refused,) = await eventually(lambda: outgoing("failed", 1))
    assert "mail-loop guard" in refused["delivery_error"]
    await asyncio.sleep(0.2)
    assert smtp_sink.received == []

    # The customer writes for real (the bot answers that), then their out-of-office answers us.
    assert await connector(client).accept(eml("arabic_windows1256.eml"))
    await eventually(lambda: _true(len(smtp_sink.received) == 1))
    ooo = eml("auto_reply.eml").replace(b"<ooo-0001@", b"<ooo-0002@")
    assert await connector(client).accept(ooo)
    await eventually(lambda: outgoing("failed", 2))  # the bot's answer to it: refused

    resp = await client.post(
        f"/api/v1/conversations/{conv}/reply", json={"text": "سيصل طلبك غداً."}, headers=headers
    )
    assert resp.status == 201
    await eventually(lambda: _true(len(smtp_sink.received) == 2))
    envelope, sent = smtp_sink.received[1]
    assert envelope.rcpt_tos == ["ahmed@customer.test"]
    assert sent["In-Reply-To"] == "<cp1256-0001@customer.test>"
    plain = sent.get_body(("plain",))
    assert plain is not None and plain.get_content().strip() == "سيصل طلبك غداً."


async def test_a_stranger_reusing_a_message_id_is_not_dropped_as_a_duplicate(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Another sender's mail with a customer's Message-ID is stored; a copy of either is not."""
    env_for_email(monkeypatch, tmp_path)
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    layla = eml("alternative.eml")
    other = layla.replace(b"layla@customer.test", b"omar@elsewhere.test")
    for raw in (layla, other, layla, other):
        assert await connector(client).accept(raw)
    resp = await client.get("/api/v1/conversations?channel=email", headers=headers)
    convs = (await resp.json())["items"]
    assert len(convs) == 2
    senders = set()
    for conv in convs:
        (msg,) = await incoming(client, headers, conv["id"], 1)
        senders.add(msg["meta"]["raw"]["from"].rpartition("<")[2].rstrip(">"))
    assert senders == {"layla@customer.test", "omar@elsewhere.test"}


@pytest.mark.parametrize(
    ("results", "trust", "linked"),
    [
        (None, None, False),  # a From anyone could have written
        ("mx.tawasul.test; dmarc=pass header.from=customer.test", None, True),
        (None, "always", True),
        ("mx.tawasul.test; dmarc=pass header.from=customer.test", "never", False),
    ],
)
async def test_unverified_from_does_not_join_a_customer_known_elsewhere(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    results: str | None,
    trust: str | None,
    linked: bool,
) -> None:
    """A mail joins the customer known by its From elsewhere only when its From is verified."""
    env_for_email(monkeypatch, tmp_path, **({"trust_from": trust} if trust else {}))
    client = await email_app(aiohttp_client, sqlite_url)
    known = await do_ingest(
        client.app[RUNTIME],
        InboundMessage(
            "memory", "crm-7", "m-1", "hello", sender_profile={"email": "layla@customer.test"}
        ),
    )
    raw = eml("alternative.eml")
    if results:
        raw = f"Authentication-Results: {results}\r\n".encode() + raw
    assert await connector(client).accept(raw)
    async with client.app[RUNTIME].sessions() as session:
        identity = (
            await session.execute(select(Identity).where(Identity.channel == "email"))
        ).scalar_one()
    assert (identity.customer_id == known.customer_id) is linked


async def test_bounce_is_recorded_and_never_answered(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A delivery report from MAILER-DAEMON is kept; replying to it is refused."""
    env_for_email(monkeypatch, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}")
    client = await email_app(aiohttp_client, sqlite_url, bot=True)
    headers = await login_as(client, "sara", Role.AGENT)
    assert await connector(client).accept(eml("bounce_dsn.eml"))
    conv = await only_conversation(client, headers)
    (bounce,) = await incoming(client, headers, conv, 1)
    assert bounce["meta"]["raw"]["automated"] == "delivery-report"

    async def failed() -> Any:
        out = [
            m
            for m in (await timeline(client, headers, conv))["messages"]
            if m["kind"] == MessageKind.OUTGOING and m["delivery_status"] == "failed"
        ]
        return out

    await eventually(failed)
    assert smtp_sink.received == []


async def test_rejected_and_flagged_mail_is_kept_and_the_watcher_goes_on(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A sender-less mail is kept raw with its reason; a defective one is stored flagged."""
    user, password = mailbox
    env_for_email(
        monkeypatch, tmp_path, imap_poll_seconds=3600,
        imap_urls=f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/INBOX",
    )  # fmt: skip
    dovecot.deliver(user, eml("no_sender.eml"))
    dovecot.deliver(user, eml("broken_multipart.eml"))
    dovecot.deliver(user, eml("alternative.eml"))
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    await eventually(lambda: _true(dovecot.seen_count(user) == 3), within=10)
    (kept, reason) = connector(client).store.rejected()[0]
    assert kept.read_bytes() == eml("no_sender.eml")
    assert "no sender address" in reason

    resp = await client.get("/api/v1/conversations?channel=email", headers=headers)
    assert len((await resp.json())["items"]) == 2
    texts = {}
    for item in (await resp.json())["items"]:
        for m in (await timeline(client, headers, item["id"]))["messages"]:
            if m["kind"] == MessageKind.INCOMING:
                texts[m["text"]] = m["meta"]["raw"]
    assert texts["The parcel is late again."]["flagged"] is True
    assert "flagged" not in next(v for k, v in texts.items() if "refund" in k)


async def test_smtp_failures_are_retried_then_visible(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A 4xx is retried and then succeeds; a 5xx fails at once, with the server's words."""
    env_for_email(monkeypatch, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}")
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    assert await connector(client).accept(eml("alternative.eml"))
    conv = await only_conversation(client, headers)

    smtp_sink.handler.fail_with = ["451 4.3.0 try later"]
    await client.post(f"/api/v1/conversations/{conv}/reply", json={"text": "one"}, headers=headers)
    await eventually(lambda: _true(len(smtp_sink.received) == 1))

    smtp_sink.handler.fail_with = ["550 5.1.1 no such user"]
    await client.post(f"/api/v1/conversations/{conv}/reply", json={"text": "two"}, headers=headers)

    async def failed() -> Any:
        out = [
            m
            for m in (await timeline(client, headers, conv))["messages"]
            if m["text"] == "two" and m["delivery_status"] == "failed"
        ]
        return out

    (two,) = await eventually(failed)
    assert "550" in two["delivery_error"]
    assert len(smtp_sink.received) == 1


async def _reply_once(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    """Store a customer mail, reply to it, and return the reply once its delivery settled."""
    assert await connector(client).accept(eml("alternative.eml"))
    conv = await only_conversation(client, headers)
    await client.post(f"/api/v1/conversations/{conv}/reply", json={"text": "hi"}, headers=headers)

    async def settled() -> Any:
        out = [
            m
            for m in (await timeline(client, headers, conv))["messages"]
            if m["kind"] == MessageKind.OUTGOING and m["delivery_status"] in ("sent", "failed")
        ]
        return out[0] if out else None

    return dict(await eventually(settled))


@pytest.mark.parametrize(
    ("url", "mode", "verify"),
    [
        ("smtp://{port}", "starttls", None),  # opportunistic: unchecked certificate is fine
        ("smtp://agent:s3cret@{port}", "starttls", "no"),
        ("smtp+starttls://agent:s3cret@{port}", "starttls", "no"),
        ("smtps://agent:s3cret@{port}", "implicit", "no"),
    ],
)
async def test_replies_go_out_over_tls_when_the_server_offers_it(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    secure_smtp_sink: Callable[[str], SmtpSink],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    url: str,
    mode: str,
    verify: str | None,
) -> None:
    """smtp:// upgrades with STARTTLS when offered; smtps:// is TLS; logins only over TLS."""
    sink = secure_smtp_sink(mode)
    smtp_url = url.format(port=f"127.0.0.1:{sink.port}")
    env_for_email(monkeypatch, tmp_path, smtp_url=smtp_url,
                  **({"smtp_verify_tls": verify} if verify else {}))  # fmt: skip
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    reply = await _reply_once(client, headers)
    assert reply["delivery_status"] == "sent", reply["delivery_error"]
    assert sink.handler.tls == [True]
    assert sink.handler.logins == (["agent"] if "agent" in url else [])


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("smtp://agent:s3cret@{port}", "not sending the SMTP password unencrypted"),
        ("smtp+starttls://{port}", "does not offer STARTTLS"),
    ],
)
async def test_no_password_in_plain_text_and_no_silent_downgrade(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    secure_smtp_sink: Callable[[str], SmtpSink],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    url: str,
    why: str,
) -> None:
    """A server without STARTTLS gets no password (though it offers AUTH) and no mail."""
    sink = secure_smtp_sink("plain")
    env_for_email(monkeypatch, tmp_path, smtp_url=url.format(port=f"127.0.0.1:{sink.port}"))
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    reply = await _reply_once(client, headers)
    assert reply["delivery_status"] == "failed"
    assert why in reply["delivery_error"]
    assert sink.handler.logins == [] and sink.received == []


async def test_smtp_listener_takes_piped_mail_and_refuses_strangers(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Mail sent to our SMTP listener is stored; other domains are refused (not a relay)."""
    port = free_port()
    env_for_email(monkeypatch, tmp_path, listen=f"127.0.0.1:{port}")
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    await aiosmtplib.send(
        eml("arabic_iso8859_6.eml"),
        sender="sara@customer.test",
        recipients=["support@tawasul.test"],
        hostname="127.0.0.1",
        port=port,
    )
    conv = await only_conversation(client, headers)
    (msg,) = await incoming(client, headers, conv, 1)
    assert msg["text"] == "مرحباً، أريد تغيير عنوان التوصيل."
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(
            eml("alternative.eml"),
            sender="x@customer.test",
            recipients=["someone@elsewhere.test"],
            hostname="127.0.0.1",
            port=port,
        )


@pytest.mark.parametrize("scheme", ["imaps", "imap+starttls"])
async def test_tls_and_starttls_mailboxes(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheme: str,
) -> None:
    """Mailboxes over implicit TLS and over STARTTLS both deliver, two mailboxes at once."""
    first, second = dovecot.add_user(), dovecot.add_user()
    port = dovecot.tls_port if scheme == "imaps" else dovecot.port
    urls = ",".join(f"{scheme}://{u}:{p}@127.0.0.1:{port}/INBOX" for u, p in (first, second))
    env_for_email(monkeypatch, tmp_path, imap_urls=urls, imap_verify_tls="no")
    dovecot.deliver(first[0], eml("alternative.eml"))
    dovecot.deliver(second[0], eml("arabic_iso8859_6.eml"))
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)

    async def two() -> bool:
        resp = await client.get("/api/v1/conversations?channel=email", headers=headers)
        return len((await resp.json())["items"]) == 2

    await eventually(two, within=10)
    assert dovecot.seen_count(first[0]) == dovecot.seen_count(second[0]) == 1
    assert client.app[RUNTIME] is not None


async def test_mail_read_elsewhere_while_we_were_down_is_still_ingested(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Mail past the UID marker comes in although read; before the first start only unseen."""
    user, password = mailbox
    env_for_email(
        monkeypatch, tmp_path, imap_poll_seconds=3600,
        imap_urls=f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/INBOX",
    )  # fmt: skip
    dovecot.deliver(user, eml("arabic_iso8859_6.eml"))  # read before we ever started
    dovecot.mark_all_seen(user)
    first = await email_app(aiohttp_client, sqlite_url)
    await eventually(lambda: _true(connector(first).watchers[0].fetches >= 1))
    (marker,) = (tmp_path / "mailstore" / "imap").glob("*.json")
    assert '"uid": 1' in marker.read_text()
    await first.close()

    dovecot.deliver(user, eml("alternative.eml"))  # arrives and is read while we are down
    dovecot.mark_all_seen(user)
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    conv = await only_conversation(client, headers)
    (msg,) = await incoming(client, headers, conv, 1)
    assert msg["meta"]["raw"]["message_id"] == "<alt-0001@customer.test>"
    await eventually(lambda: _true('"uid": 2' in marker.read_text()))
    resp = await client.get("/api/v1/conversations?channel=email", headers=headers)
    assert len((await resp.json())["items"]) == 1


async def test_a_marker_from_another_uidvalidity_is_not_trusted(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """After the server renumbered the mailbox, unseen mail is new again, not all of it."""
    user, password = mailbox
    url = f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/INBOX"
    env_for_email(monkeypatch, tmp_path, imap_poll_seconds=3600, imap_urls=url)
    dovecot.deliver(user, eml("arabic_iso8859_6.eml"))
    dovecot.mark_all_seen(user)
    dovecot.deliver(user, eml("alternative.eml"))
    label = imap.Mailbox.from_url(url).label()
    MailStore(tmp_path / "mailstore").save_imap_cursor(label, uidvalidity=1, uid=0)
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    conv = await only_conversation(client, headers)
    (msg,) = await incoming(client, headers, conv, 1)
    assert msg["meta"]["raw"]["message_id"] == "<alt-0001@customer.test>"
    watcher = connector(client).watchers[0]
    assert watcher.uidvalidity not in (None, 1)
    store = MailStore(tmp_path / "mailstore")
    await eventually(lambda: _true(store.imap_cursor(label) == (watcher.uidvalidity, 2)))


async def test_polling_picks_up_new_mail_when_idle_is_off(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """EMAIL_IMAP_IDLE=no polls every EMAIL_IMAP_POLL_SECONDS although Dovecot has IDLE."""
    user, password = mailbox
    env_for_email(
        monkeypatch, tmp_path, imap_idle="no", imap_poll_seconds=0.2,
        imap_urls=f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/INBOX",
    )  # fmt: skip
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    watcher = connector(client).watchers[0]
    # IDLE would sit in one wait for minutes: several rounds mean it polls.
    await eventually(lambda: _true(watcher.fetches >= 3), within=5)
    assert watcher.mode == "polling"
    dovecot.deliver(user, eml("alternative.eml"))
    conv = await only_conversation(client, headers)
    assert len(await incoming(client, headers, conv, 1)) == 1


async def test_mail_that_cannot_be_stored_stays_unseen_and_is_retried(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A database hiccup leaves the mail unseen on the server; the next round stores it."""
    user, password = mailbox
    env_for_email(
        monkeypatch, tmp_path, imap_poll_seconds=0.3,
        imap_urls=f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/INBOX",
    )  # fmt: skip
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    email = connector(client)
    real_sink, calls = email.sink, []

    async def flaky(inbound: Any) -> Any:
        calls.append(inbound.external_message_id)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return await real_sink(inbound)

    email.sink = flaky
    dovecot.deliver(user, eml("alternative.eml"))
    conv = await only_conversation(client, headers)
    assert len(await incoming(client, headers, conv, 1)) == 1
    assert calls == ["layla@customer.test <alt-0001@customer.test>"] * 2
    await eventually(lambda: _true(dovecot.seen_count(user) == 1))


async def test_mail_the_database_keeps_refusing_is_kept_aside_and_idle_resumes(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Refused 3 times for its values, a mail goes to the rejected store; IDLE then resumes."""
    user, password = mailbox
    monkeypatch.setattr(imap, "RETRY_SECONDS", 0.2)
    env_for_email(
        monkeypatch, tmp_path, imap_poll_seconds=3600,
        imap_urls=f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/INBOX",
    )  # fmt: skip
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    email = connector(client)
    real_sink, calls = email.sink, []

    async def refusing(inbound: Any) -> Any:
        calls.append(inbound.external_message_id)
        if "refund" in inbound.text:
            raise ValueError("value the database refuses")
        return await real_sink(inbound)

    email.sink = refusing
    dovecot.deliver(user, eml("alternative.eml"))
    await eventually(lambda: _true(dovecot.seen_count(user) == 1))
    (kept, reason) = email.store.rejected()[0]
    assert kept.read_bytes() == eml("alternative.eml")
    assert reason == "could not be stored (3 attempts): ValueError: value the database refuses"
    assert len(calls) == 3
    # Polling is an hour away: only IDLE can see the next mail.
    dovecot.deliver(user, eml("arabic_iso8859_6.eml"))
    conv = await only_conversation(client, headers)
    assert len(await incoming(client, headers, conv, 1)) == 1


async def test_mail_with_nul_and_a_300_character_name_is_stored(
    aiohttp_client: AppFactory,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A NUL in the body and an overlong From name, which PostgreSQL refuses as such, store."""
    env_for_email(monkeypatch, tmp_path)
    client = await email_app(aiohttp_client, database_url)
    headers = await login_as(client, "sara", Role.AGENT)
    name = "Customer " + "x" * 291
    raw = (
        f'From: "{name}" <long@customer.test>\r\nTo: support@tawasul.test\r\n'
        "Subject: nul\r\nMessage-ID: <nul-0001@customer.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nWhere is\x00 my order?\r\n"
    ).encode()
    assert await connector(client).accept(raw)
    conv = await only_conversation(client, headers)
    (msg,) = await incoming(client, headers, conv, 1)
    assert msg["text"] == "Where is my order?"
    data = await timeline(client, headers, conv)
    assert data["customer"]["display_name"] == name[:200]


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n%%EOF\n"


async def test_reply_carries_uploaded_files_as_mime_parts(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """An agent's upload reaches the sink as an attachment part: same bytes, same Arabic name."""
    env_for_email(monkeypatch, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}")
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    assert await connector(client).accept(eml("alternative.eml"))
    conv = await only_conversation(client, headers)
    body = FormData()
    body.add_field("file", io.BytesIO(PDF), filename="فاتورة مارس.pdf",
                   content_type="application/pdf")  # fmt: skip
    uploaded = await (await client.post("/api/v1/uploads", data=body, headers=headers)).json()
    resp = await client.post(
        f"/api/v1/conversations/{conv}/reply",
        json={"text": "مرفقة الفاتورة", "attachments": [uploaded["id"]]},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    await eventually(lambda: _true(len(smtp_sink.received) == 1))
    _, mail = smtp_sink.received[0]
    assert mail.get_content_type() == "multipart/mixed"
    (part,) = list(mail.iter_attachments())
    assert part.get_filename() == "فاتورة مارس.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None and "مرفقة الفاتورة" in text.get_content()


async def test_inbound_mail_attachment_downloads_through_the_files_route(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A customer's attached file, kept by the email channel, downloads for agents only."""
    env_for_email(monkeypatch, tmp_path)
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "sara", Role.AGENT)
    assert await connector(client).accept(eml("attachment.eml"))
    conv = await only_conversation(client, headers)
    (msg,) = await incoming(client, headers, conv, 1)
    (file,) = msg["attachments"]
    assert file["external_id"].startswith("sha256:")
    url = f"/api/v1/files/{file['external_id']}?name={file['name']}"
    resp = await client.get(url, headers=headers)
    assert resp.status == 200
    data = await resp.read()
    assert data.startswith(b"%PDF-1.4") and len(data) == file["size"]
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    client.session.cookie_jar.clear()
    assert (await client.get(url)).status == 401


async def test_erasing_a_mail_customer_removes_their_files_and_a_refetch_brings_none_back(
    aiohttp_client: AppFactory,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """An erased customer's mail attachment goes from the channel's store; a re-fetch adds none."""
    env_for_email(monkeypatch, tmp_path)
    client = await email_app(aiohttp_client, sqlite_url)
    headers = await login_as(client, "root", Role.ADMIN)
    raw = eml("attachment.eml")
    assert await connector(client).accept(raw)
    conv = await only_conversation(client, headers)
    (msg,) = await incoming(client, headers, conv, 1)
    (file,) = msg["attachments"]
    blob = connector(client).store.path(file["external_id"])
    assert blob.exists()
    cid = msg["customer_id"]
    resp = await client.post(
        f"/api/v1/customers/{cid}/erase",
        json={"reason": "erasure request", "confirm": cid},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["counts"]["files_removed"] == 1
    assert not blob.exists()
    url = f"/api/v1/files/{file['external_id']}"
    assert (await client.get(url, headers=headers)).status == 404
    # The mailbox still has the mail (a re-scan after UIDVALIDITY changed fetches it again).
    assert await connector(client).accept(raw)
    assert not blob.exists()
    found = await client.get("/api/v1/customers?q=layla", headers=headers)
    assert await found.json() == []
    listed = await client.get("/api/v1/conversations?channel=email", headers=headers)
    assert [c["id"] for c in (await listed.json())["items"]] == [conv]
