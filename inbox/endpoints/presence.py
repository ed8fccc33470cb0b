"""What the inbox shows around the list: view counts and who is typing where."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from sqlalchemy import func, select

from core.alerts import do_signal_typing, typing_recipients
from core.models import Conversation, TeamMember
from core.types import ConversationStatus
from inbox.api import api, current_agent
from inbox.endpoints.conversations import conversation_id
from inbox.keys import CONNECTORS, RUNTIME
from inbox.schemas import Strict


class TypingBody(Strict):
    """Whether the agent is writing a reply or a private note."""

    mode: Literal["reply", "note"] = "reply"


@api.route("GET", "/inbox/counts", tag="inbox")
async def counts(request: web.Request) -> web.Response:
    """How many conversations each view holds (mine open, pending, bot, my teams, all active)."""
    agent = current_agent(request)
    async with request.app[RUNTIME].sessions() as session:
        by_status = dict(
            (
                await session.execute(
                    select(Conversation.status, func.count())
                    .where(Conversation.status != ConversationStatus.RESOLVED)
                    .group_by(Conversation.status)
                )
            ).all()
        )
        mine = await session.scalar(
            select(func.count()).where(
                Conversation.assignee_id == agent.id,
                Conversation.status == ConversationStatus.OPEN,
            )
        )
        teams = await session.scalar(
            select(func.count()).where(
                Conversation.team_id.in_(
                    select(TeamMember.team_id).where(TeamMember.agent_id == agent.id)
                ),
                Conversation.status != ConversationStatus.RESOLVED,
            )
        )
    return web.json_response(
        {
            "mine": int(mine or 0),
            "pending": int(by_status.get(ConversationStatus.PENDING, 0)),
            "bot": int(by_status.get(ConversationStatus.BOT, 0)),
            "teams": int(teams or 0),
            "all": int(sum(by_status.values())),
        }
    )


@api.route("POST", "/conversations/{conversation_id}/typing", tag="inbox")
async def typing(request: web.Request, body: TypingBody) -> web.Response:
    """Tell other agents this one is writing here; a reply (never a note) shows the customer too."""
    rt, cid = request.app[RUNTIME], conversation_id(request)
    await do_signal_typing(rt, cid, current_agent(request), body.mode)
    if body.mode == "reply":
        identities, channel = await typing_recipients(rt, cid)
        await request.app[CONNECTORS].typing(identities, channel)
    return web.json_response({"ok": True})
