"""`python -m bot.parse`: classify one text per stdin line, print one JSON object per line."""

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


async def classify(url: str, lines: TextIO, out: TextIO) -> None:
    """Parse each non-empty line through the server and write JSON lines."""
    async with RasaClient(url, timeout=30) as client:
        for line in lines:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            result = summarize(await client.parse(text))
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            out.flush()


def main() -> None:
    """Entry point."""
    with running_rasa() as url:
        asyncio.run(classify(url, sys.stdin, sys.stdout))


if __name__ == "__main__":
    main()
