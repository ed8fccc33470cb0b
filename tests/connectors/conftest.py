"""Connector fixtures: Dovecot and an SMTP sink, the Bot API stand-in, a webhook receiver."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from core.redis_bus import RedisBus
from core.settings import Settings
from core.webhooks import signed_headers
from inbox.app import create_app
from tests.conftest import REDIS_URL, make_settings
from tests.connectors.bot_api import BotApi
from tests.connectors.receiver import Receiver
from tests.inbox.conftest import Client

FIXTURES = Path(__file__).parent / "fixtures"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    """A private Dovecot serving IMAP on loopback, with throwaway maildir users."""

    root: Path
    conf: Path
    port: int
    tls_port: int
    proc: subprocess.Popen[bytes] | None = None
    users: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_user(self) -> tuple[str, str]:
        """A fresh mailbox user, from those written before the server started."""
        number = next(self.users)
        if number > USERS:
            raise RuntimeError("out of prepared Dovecot users: raise USERS")
        return f"u{number}@example.test", "secret"

    def deliver(self, user: str, raw: bytes) -> None:
        """Drop a message into the user's INBOX, as a mail server would."""
        subprocess.run(
            ["doveadm", "-c", str(self.conf), "save", "-u", user],
            input=raw,
            check=True,
            capture_output=True,
            timeout=30,
        )

    def mark_all_seen(self, user: str) -> None:
        """Flag every INBOX message \\Seen, as another mail client reading them would."""
        subprocess.run(
            ["doveadm", "-c", str(self.conf), "flags", "add", "-u", user, "\\Seen",
             "mailbox", "INBOX", "all"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip

    def seen_count(self, user: str) -> int:
        """How many INBOX messages carry the Seen flag."""
        out = subprocess.run(
            ["doveadm", "-c", str(self.conf), "search", "-u", user, "mailbox", "INBOX", "SEEN"],
            check=True,
            capture_output=True,
            timeout=30,
        ).stdout
        return len([line for line in out.splitlines() if line.strip()])


# Users are written up front: Dovecot notices passwd-file changes by mtime, at 1 s resolution.
USERS = 200

CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%d/%n/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot for the run (installed by scripts/deps-channels2.sh)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        pytest.fail("dovecot is not installed: run `make system-deps` (scripts/deps-channels2.sh)")
    # Short and world-readable: Dovecot drops to `nobody`, and socket paths must stay short.
    root = Path(tempfile.mkdtemp(prefix="dc", dir="/tmp"))
    root.chmod(0o755)
    (root / "mail").mkdir()
    shutil.chown(root / "mail", "nobody", "nogroup")
    (root / "passwd").write_text(
        "".join(f"u{n}@example.test:{{PLAIN}}secret\n" for n in range(1, USERS + 1))
    )
    key, cert = str(root / "key.pem"), str(root / "cert.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = Dovecot(root, root / "dovecot.conf", free_port(), free_port())
    server.conf.write_text(CONF.format(root=root, port=server.port, tls_port=server.tls_port))
    server.proc = subprocess.Popen([binary, "-c", str(server.conf), "-F"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), 1):
            break
        time.sleep(0.05)
    else:
        server.proc.kill()
        pytest.fail(f"dovecot did not start: {(root / 'dovecot.log').read_text()[-2000:]}")
    yield server
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
    shutil.rmtree(root, ignore_errors=True)


class Sink:
    """aiosmtpd handler that keeps every mail it is given, or answers with a chosen error."""

    def __init__(self) -> None:
        self.received: list[tuple[Envelope, EmailMessage]] = []
        self.fail_with: list[str] = []
        self.tls: list[bool] = []  # per mail received: whether it came over TLS
        self.logins: list[str] = []  # every AUTH attempt's user name, in order

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the mail, or fail as asked."""
        if self.fail_with:
            return self.fail_with.pop(0)
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        parsed = message_from_bytes(data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope, parsed))
        transport = server.transport
        implicit = transport is not None and transport.get_extra_info("sslcontext") is not None
        self.tls.append(session.ssl is not None or implicit)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """Accept ``agent``/``s3cret`` and remember who tried."""
        login, password = (data.login.decode(), data.password.decode())
        self.logins.append(login)
        return AuthResult(success=(login, password) == ("agent", "s3cret"))


@dataclass
class SmtpSink:
    """The sink's address and what it got."""

    port: int
    handler: Sink

    @property
    def received(self) -> list[tuple[Envelope, EmailMessage]]:
        """Mails accepted so far."""
        return self.handler.received


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An aiosmtpd server on loopback that records what our connector sends."""
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSink(port, handler)
    controller.stop()


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server TLS context with a throwaway self-signed certificate for 127.0.0.1."""
    root = tmp_path_factory.mktemp("smtp-tls")
    key, cert = str(root / "key.pem"), str(root / "cert.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def secure_smtp_sink(smtp_certificate: ssl.SSLContext) -> Iterator[Callable[[str], SmtpSink]]:
    """Start login-taking sinks: ``starttls``, ``implicit`` TLS or ``plain`` (AUTH in clear)."""
    controllers: list[Controller] = []

    def start(mode: str) -> SmtpSink:
        handler = Sink()
        port = free_port()
        options: dict[str, Any] = {"authenticator": handler.authenticate}
        if mode == "starttls":
            options["tls_context"] = smtp_certificate
        elif mode == "implicit":
            options["ssl_context"] = smtp_certificate
            # aiosmtpd only counts STARTTLS as TLS; this connection is TLS from the start.
            options["auth_require_tls"] = False
        else:
            options["auth_require_tls"] = False  # a careless server: offers AUTH without TLS
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return SmtpSink(port, handler)

    yield start
    for controller in controllers:
        controller.stop()


def eml(name: str) -> bytes:
    """A fixture mail's raw bytes."""
    return (FIXTURES / "email" / name).read_bytes()


def env_for_email(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: Any) -> dict[str, str]:
    """Point the email connector's settings (EMAIL_*) at the test peers."""
    env = {
        "EMAIL_ADDRESS": "support@tawasul.test",
        "EMAIL_FROM_NAME": "Tawasul Support",
        "EMAIL_STORE_DIR": str(tmp_path / "mailstore"),
        **{f"EMAIL_{k.upper()}": str(v) for k, v in values.items()},
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


TG_SECRET = "tg-webhook-secret-0123456789"
SHOP_SECRET = "shop-secret-0123456789abcdef"
MAX_BODY = 64 * 1024


def tg_fixture(name: str) -> dict[str, Any]:
    """A Telegram update from the fixtures."""
    data: dict[str, Any] = json.loads((FIXTURES / "telegram" / f"{name}.json").read_text())
    return data


@pytest.fixture
async def bot_api(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> BotApi:
    """The Bot API stand-in, served on 127.0.0.1."""
    api = BotApi()
    server = await aiohttp_server(api.app())
    api.url = str(server.make_url("")).rstrip("/")
    return api


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Receiver:
    """The webhook receiver, served on 127.0.0.1; replies to the ``shop`` channel land here."""
    rec = Receiver(secrets={"replies": SHOP_SECRET})
    server = await aiohttp_server(rec.app())
    rec.url = str(server.make_url("")).rstrip("/")
    return rec


@pytest.fixture
def channel_env(
    monkeypatch: pytest.MonkeyPatch, bot_api: BotApi, receiver: Receiver
) -> Callable[..., Any]:
    """Point the Telegram and webhook channels at the local peers; returns a settings maker."""
    env = {
        "TELEGRAM_TOKEN": bot_api.token,
        "TELEGRAM_API_URL": f"{bot_api.url}/bot",
        "TELEGRAM_FILE_URL": f"{bot_api.url}/file/bot",
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "TELEGRAM_RETRY_SECONDS": "0.05",
        "WEBHOOK_KEYS": "shop",
        "WEBHOOK_SHOP_SECRET": SHOP_SECRET,
        "WEBHOOK_SHOP_REPLY_URL": f"{receiver.url}/replies",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def settings(url: str, **overrides: Any) -> Any:
        values: dict[str, Any] = {
            "channels": "memory,telegram,webhook",
            "max_body_bytes": MAX_BODY,
            "webhook_poll_seconds": 0.02,
            "webhook_retry_seconds": 0.05,
            **overrides,
        }
        return make_settings(url, **values)

    return settings


@pytest.fixture
async def channels(
    aiohttp_client: Callable[..., Awaitable[Client]],
    sqlite_url: str,
    channel_env: Callable[..., Any],
) -> Client:
    """The service with memory, telegram and webhook channels and live workers."""
    return await aiohttp_client(create_app(channel_env(sqlite_url), migrate=False))


async def post_update(
    client: Client, update: dict[str, Any] | bytes, secret: str | None = TG_SECRET
) -> ClientResponse:
    """POST an update to the Telegram webhook, with the secret header when given."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    return await client.post("/channels/telegram/webhook", data=body, headers=headers)


async def post_signed(
    client: Client,
    payload: dict[str, Any] | bytes,
    *,
    key: str = "shop",
    secret: str = SHOP_SECRET,
    at: float | None = None,
) -> ClientResponse:
    """POST a message to the webhook channel, signed like an integration would."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        **signed_headers(secret, body, at or time.time()),
    }
    return await client.post(f"/channels/webhook/{key}", data=body, headers=headers)


Instances = Callable[..., Awaitable[list[Client]]]


@pytest.fixture
async def instances(aiohttp_client: Callable[..., Awaitable[Client]]) -> AsyncIterator[Instances]:
    """Start service processes that share one database and one Redis (a prefix of their own).

    ``await instances(settings, workers=[True, False])`` starts one per entry of ``workers``;
    those with False run no queue workers, so the others do all deliveries.
    """
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    buses: list[RedisBus] = []
    clients: list[Client] = []

    async def start(settings: Settings, workers: list[bool]) -> list[Client]:
        for runs in workers:
            bus = RedisBus(REDIS_URL, prefix=prefix, block_ms=50)
            buses.append(bus)
            app = create_app(settings, bus=bus, migrate=False, workers=runs)
            clients.append(await aiohttp_client(app))
        return clients

    yield start
    for client in clients:
        await client.close()
    if buses:
        keys = [k async for k in buses[0].redis.scan_iter(f"{prefix}:*")]
        if keys:
            await buses[0].redis.delete(*keys)
    for bus in buses:
        await bus.close()
