"""`python -m bot.parse`: one JSON line per input line, blank lines included."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.parse import classify
from tests.bot.conftest import REPO

LINES = ["where is my order #10234?", "", "   ", "مرحبا", "what are your opening hours?"]


def parse_answer(text: str) -> dict[str, Any]:
    """A /model/parse answer naming the line's length as its confidence (to tell lines apart)."""
    return {
        "text": text,
        "intent": {"name": "greet", "confidence": len(text) / 100},
        "entities": [{"entity": "order_number", "value": "#10234"}] if "#" in text else [],
        "intent_ranking": [{"name": "greet", "confidence": len(text) / 100}],
    }


async def test_blank_lines_keep_their_place(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    """Blank lines are answered without Rasa (intent null, error 'empty'); the rest in order."""
    seen: list[str] = []

    async def model_parse(request: web.Request) -> web.Response:
        text = (await request.json())["text"]
        seen.append(text)
        return web.json_response(parse_answer(text))

    app = web.Application()
    app.router.add_post("/model/parse", model_parse)
    server = await aiohttp_server(app)
    out = io.StringIO()
    await classify(str(server.make_url("")), io.StringIO("\n".join(LINES) + "\n"), out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == len(LINES)
    assert seen == [line for line in LINES if line.strip()]
    for line, row in zip(LINES, rows, strict=True):
        assert row["text"] == line
        if line.strip():
            assert "error" not in row and row["confidence"] == round(len(line) / 100, 4)
        else:
            assert (row["intent"], row["confidence"], row["error"]) == (None, 0.0, "empty")
    assert rows[0]["entities"] == [
        {"entity": "order_number", "value": "#10234", "normalized": "10234"}
    ]


@pytest.mark.rasa
async def test_command_against_real_rasa(rasa_stack: str) -> None:
    """The command through a real trained model: line counts match and intents are right."""
    env = dict(os.environ, RASA_URL=rasa_stack)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.parse"],
        input="\n".join(LINES) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["text"] for row in rows] == LINES
    assert [row["intent"] for row in rows] == [
        "order_status",
        None,
        None,
        "greet",
        "opening_hours",
    ]
    assert rows[0]["entities"][0]["normalized"] == "10234"
    assert rows[1]["error"] == rows[2]["error"] == "empty"
