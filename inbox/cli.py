"""Command line: serve, migrate, create-agent, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys

from aiohttp import web

from core.accounts import do_create_agent
from core.db import make_engine, make_sessions
from core.errors import DomainError
from core.migrate import upgrade
from core.settings import Settings, is_loopback
from core.types import Role


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inbox", description="Tawasul service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("migrate", help="bring the database schema up to date")
    agent = sub.add_parser("create-agent", help="create an agent")
    agent.add_argument("--login", required=True)
    agent.add_argument("--name")
    agent.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    agent.add_argument("--language", choices=["en", "ar"], default="en")
    agent.add_argument(
        "--password-env", default="TAWASUL_PASSWORD", help="read the password from this variable"
    )
    sub.add_parser("demo", help="seed demo agents, customers and conversations (idempotent)")
    return parser


async def _migrate(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()


async def _create_agent(settings: Settings, args: argparse.Namespace) -> int:
    password = os.environ.get(args.password_env) or getpass.getpass("password: ")
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    try:
        agent = await do_create_agent(
            make_sessions(engine),
            args.login,
            args.name or args.login,
            password,
            Role(args.role),
            args.language,
        )
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"created {agent.role} {agent.login!r} (id {agent.id})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings()
    if args.command == "serve":
        from inbox.app import create_app

        host = args.host or settings.host
        port = args.port or settings.port
        if settings.uses_default_secret and not is_loopback(host):
            print(
                f"error: refusing to listen on {host} with the development SECRET_KEY; "
                "set SECRET_KEY to a long random value",
                file=sys.stderr,
            )
            return 2
        web.run_app(create_app(settings), host=host, port=port, access_log=None)
        return 0
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    if args.command == "create-agent":
        return asyncio.run(_create_agent(settings, args))
    if args.command == "demo":
        from inbox.demo import seed

        print(asyncio.run(seed(settings)))
        return 0
    return 2
