"""Sites that embed the widget: allowed origins, identity secret, opening hours, wording."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from connectors.webchat.security import valid_site_name

TELEGRAM_BOT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Site:
    """One website allowed to embed the widget.

    ``origins`` may hold ``"self"`` for the service's own pages (the ``/demo`` page).
    ``hours`` is ``"HH:MM-HH:MM"`` in ``timezone`` on ``days``; empty means always open.
    ``telegram_bot`` (a bot username) offers visitors a "Continue on Telegram" link.
    """

    name: str
    origins: tuple[str, ...] = ("self",)
    secret: str | None = None
    hours: str = ""
    days: tuple[str, ...] = DAYS
    timezone: str = "UTC"
    require_agent: bool = False
    title: dict[str, str] = field(default_factory=dict)
    greeting: dict[str, str] = field(default_factory=dict)
    telegram_bot: str = ""

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> Site:
        """A site from its JSON settings."""
        if not valid_site_name(name):
            raise ValueError(f"web chat site name {name!r}: use lowercase letters, digits, - _")
        days = tuple(str(d).lower()[:3] for d in data.get("days", DAYS))
        if unknown := [d for d in days if d not in DAYS]:
            raise ValueError(f"web chat site {name}: unknown days {unknown}")
        site = cls(
            name=name,
            origins=tuple(str(o).rstrip("/") for o in data.get("origins", ["self"])),
            secret=data.get("secret"),
            hours=str(data.get("hours", "")),
            days=days,
            timezone=str(data.get("timezone", "UTC")),
            require_agent=bool(data.get("require_agent", False)),
            title=dict(data.get("title", {})),
            greeting=dict(data.get("greeting", {})),
            telegram_bot=str(data.get("telegram_bot", "")).strip().removeprefix("@"),
        )
        ZoneInfo(site.timezone)
        if site.telegram_bot and not TELEGRAM_BOT.match(site.telegram_bot):
            raise ValueError(f"web chat site {name}: not a Telegram bot username")
        site._window()
        return site

    def _window(self) -> tuple[time, time] | None:
        """Opening and closing time, or None when always open."""
        if not self.hours:
            return None
        start, _, end = self.hours.partition("-")
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())

    def open_at(self, when: datetime) -> bool:
        """Whether the site's support is open at ``when`` (aware datetime)."""
        local = when.astimezone(ZoneInfo(self.timezone))
        if DAYS[local.weekday()] not in self.days:
            return False
        window = self._window()
        if window is None:
            return True
        start, end = window
        now = local.time()
        return start <= now < end if start <= end else (now >= start or now < end)

    def allows(self, origin: str | None, own_origin: str) -> bool:
        """Whether a page at ``origin`` may talk to us for this site."""
        if not origin:
            return False
        origin = origin.rstrip("/")
        return any(o == origin or (o == "self" and origin == own_origin) for o in self.origins)


def load_sites(raw: str | None) -> dict[str, Site]:
    """Sites from ``WEBCHAT_SITES`` (JSON object name → settings); a ``demo`` site by default."""
    data = json.loads(raw) if raw else {"demo": {"origins": ["self"]}}
    if not isinstance(data, dict):
        raise ValueError("WEBCHAT_SITES must be a JSON object of site name to settings")
    return {name: Site.from_dict(name, dict(value)) for name, value in data.items()}
