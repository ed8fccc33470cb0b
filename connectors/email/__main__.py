"""``python -m connectors.email check|rejected``: try the mail settings, list mail kept aside."""

from __future__ import annotations

import asyncio
import sys

from connectors.email.connector import EmailConnector
from core.settings import Settings


async def _nothing(_: object) -> object:
    """A sink that is never used by these commands."""
    raise RuntimeError("not ingesting from the command line")


async def check(connector: EmailConnector) -> int:
    """Log in to every mailbox and greet the SMTP server; non-zero exit on any failure."""
    failures = 0
    for watcher in connector.watchers:
        try:
            client = await watcher._connect()
            idle = watcher.mailbox.idle and client.has_capability("IDLE")
            await client.logout()
            print(f"IMAP {watcher.mailbox.label()}: ok ({'IDLE' if idle else 'polling'})")
        except Exception as exc:
            failures += 1
            print(f"IMAP {watcher.mailbox.label()}: FAILED {type(exc).__name__}: {exc}")
    if connector.smtp_url:
        options = connector._smtp_options()
        try:
            smtp = await connector._open_smtp()
            secure = "TLS" if smtp.get_transport_info("sslcontext") is not None else "plain"
            await smtp.quit()
            print(f"SMTP {options['hostname']}:{options['port']}: ok ({secure})")
        except Exception as exc:
            failures += 1
            print(f"SMTP {options['hostname']}:{options['port']}: FAILED {exc}")
    else:
        print("SMTP: EMAIL_SMTP_URL is not set; replies cannot go out")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    """Entry point."""
    settings = Settings()
    connector = EmailConnector.from_settings(settings.section("email"), _nothing)  # type: ignore[arg-type]
    command = argv[0] if argv else "check"
    if command == "check":
        return asyncio.run(check(connector))
    if command == "rejected":
        for path, reason in connector.store.rejected():
            print(f"{path}\t{reason}")
        return 0
    print("usage: python -m connectors.email check|rejected", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
