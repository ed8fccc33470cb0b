"""`python -m bot.parse`: classify one text per stdin line, print one JSON object per line.

Output line N always answers input line N. A blank line is not sent to Rasa: it gets
``{"text": "", "intent": null, "confidence": 0.0, "entities": [], "ranking": [],
"error": "empty"}``; a classified line has no ``error`` key.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, TextIO

from bot.client import RasaClient
from bot.language import normalize_order_number
from bot.server import running_rasa


def summarize(parsed: dict[str, Any]) -> dict[str, Any]:
    """The fields callers need from Rasa's /model/parse answer."""
    intent = parsed.get("intent") or {}
    return {
        "text": parsed.get("text", ""),
        "intent": intent.get("name"),
        "confidence": round(float(intent.get("confidence") or 0.0), 4),
        "entities": [_entity(e) for e in parsed.get("entities", [])],
        "ranking": [
            {"intent": r.get("name"), "confidence": round(float(r.get("confidence") or 0.0), 4)}
            for r in parsed.get("intent_ranking", [])[:3]
        ],
    }


def _entity(entity: dict[str, Any]) -> dict[str, Any]:
    """Entity name and value; order numbers also in the form the orders API takes."""
    out = {"entity": entity.get("entity"), "value": entity.get("value")}
    if entity.get("entity") == "order_number":
        out["normalized"] = normalize_order_number(str(entity.get("value", "")))
    return out


def empty(text: str) -> dict[str, Any]:
    """The answer for a blank line: no intent, so line numbers still match the input."""
    return {
        "text": text,
        "intent": None,
        "confidence": 0.0,
        "entities": [],
        "ranking": [],
        "error": "empty",
    }


async def classify(url: str, lines: TextIO, out: TextIO) -> None:
    """Parse each line through the server and write one JSON line for each."""
    async with RasaClient(url, timeout=30) as client:
        for line in lines:
            text = line.rstrip("\r\n")
            # A blank line still gets its answer, so output line N is about input line N.
            result = summarize(await client.parse(text)) if text.strip() else empty(text)
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            out.flush()


def main() -> None:
    """Entry point."""
    with running_rasa() as url:
        asyncio.run(classify(url, sys.stdin, sys.stdout))


if __name__ == "__main__":
    main()
