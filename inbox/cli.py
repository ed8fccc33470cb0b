"""Command line: serve, migrate, create-agent, set-password, deactivate-agent, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys

from aiohttp import web
from sqlalchemy import select

from core.accounts import do_create_agent, do_set_password, do_update_agent
from core.db import make_engine, make_sessions
from core.errors import DomainError
from core.migrate import upgrade
from core.models import Agent
from core.runtime import Runtime
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
    reset = sub.add_parser("set-password", help="set an agent's password; ends their sessions")
    reset.add_argument("--login", required=True)
    reset.add_argument(
        "--password-env", default="TAWASUL_PASSWORD", help="read the password from this variable"
    )
    off = sub.add_parser("deactivate-agent", help="stop an agent logging in; ends their sessions")
    off.add_argument("--login", required=True)
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


async def _manage_agent(settings: Settings, args: argparse.Namespace) -> int:
    """set-password or deactivate-agent, through the same do_* actions as the API."""
    from inbox.app import make_bus

    password = ""
    if args.command == "set-password":
        password = os.environ.get(args.password_env) or getpass.getpass("new password: ")
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    # With REDIS_URL set, running services hear session.revoked and close the agent's
    # sockets at once; otherwise their next session re-check (within a minute) does.
    rt = Runtime(sessions=make_sessions(engine), bus=make_bus(settings), settings=settings)
    try:
        async with rt.sessions() as session:
            agent = (
                await session.execute(select(Agent).where(Agent.login == args.login.lower()))
            ).scalar_one_or_none()
        if agent is None:
            print(f"error: no agent with login {args.login!r}", file=sys.stderr)
            return 1
        if args.command == "set-password":
            await do_set_password(rt, agent.id, password)
            print(f"password of {agent.login!r} set; their sessions ended")
        else:
            await do_update_agent(rt, agent.id, active=False)
            print(f"{agent.login!r} deactivated; their sessions ended")
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await rt.bus.close()
        await engine.dispose()
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
    if args.command in ("set-password", "deactivate-agent"):
        return asyncio.run(_manage_agent(settings, args))
    if args.command == "demo":
        from inbox.demo import seed

        print(asyncio.run(seed(settings)))
        return 0
    return 2
