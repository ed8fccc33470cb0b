"""Read markers: they only move forward, and unread counts only incoming customer messages."""

from __future__ import annotations

import pytest

from core import actions
from core.accounts import do_create_agent
from core.errors import NotFound
from core.reads import do_mark_read, unread_counts
from core.runtime import Runtime
from core.types import InboundMessage


async def _say(rt: Runtime, sender: str, mid: str, text: str = "السلام عليكم") -> int:
    r = await actions.do_ingest(rt, InboundMessage("telegram", sender, mid, text))
    return r.message_id


async def _unread(rt: Runtime, agent_id: int, *cids: int) -> dict[int, int]:
    async with rt.sessions() as session:
        return await unread_counts(session, agent_id, list(cids))


async def test_unread_counts_incoming_after_the_marker_per_agent(rt: Runtime) -> None:
    """Each agent has their own marker; replies, notes and activities never count."""
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    omar = await do_create_agent(rt.sessions, "omar", "عمر", "password123")
    first = await _say(rt, "42", "m1")
    r = await actions.do_ingest(rt, InboundMessage("telegram", "42", "m2", "وين طلبي؟"))
    cid = r.conversation_id
    other = await actions.do_ingest(rt, InboundMessage("telegram", "77", "o1", "hi"))
    await actions.do_escalate(rt, cid, "customer_request")
    await actions.do_note(rt, cid, sara.id, "ملاحظة")
    assert await _unread(rt, sara.id, cid, other.conversation_id) == {
        cid: 2,
        other.conversation_id: 1,
    }

    assert await do_mark_read(rt, sara.id, cid, first) == first
    assert await _unread(rt, sara.id, cid) == {cid: 1}
    assert await _unread(rt, omar.id, cid) == {cid: 2}
    marker = await do_mark_read(rt, sara.id, cid)
    assert marker > r.message_id  # the activity and note after it are read too
    assert await _unread(rt, sara.id, cid) == {}

    await _say(rt, "42", "m3")
    assert await _unread(rt, sara.id, cid) == {cid: 1}
    assert await _unread(rt, sara.id) == {}


async def test_marker_never_moves_back_and_refuses_foreign_messages(rt: Runtime) -> None:
    """An older message id (a late tab) leaves the marker; another conversation's id is 404."""
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    one = await _say(rt, "42", "m1")
    two = await actions.do_ingest(rt, InboundMessage("telegram", "42", "m2", "ثانية"))
    foreign = await _say(rt, "77", "x1")
    cid = two.conversation_id
    assert await do_mark_read(rt, sara.id, cid, two.message_id) == two.message_id
    assert await do_mark_read(rt, sara.id, cid, one) == two.message_id
    with pytest.raises(NotFound):
        await do_mark_read(rt, sara.id, cid, foreign)
    with pytest.raises(NotFound):
        await do_mark_read(rt, sara.id, 9999)
