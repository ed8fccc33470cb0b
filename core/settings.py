"""Typed settings, read once from the environment and `.env`."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/tawasul.sqlite3"
DEV_SECRET_KEY = "dev-insecure-change-me"


def is_loopback(host: str) -> bool:
    """Whether a listen address or peer is this machine only."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class Settings(BaseSettings):
    """Everything the service can be told; secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    bot_token: SecretStr | None = Field(default=None, description="Bearer token the bot uses")

    max_body_bytes: int = 1_048_576
    max_text_chars: int = 10_000
    session_ttl_hours: int = 12

    pipeline_max_attempts: int = 5
    pipeline_shards: int = 8
    pipeline_retry_seconds: float = 2.0
    delivery_max_attempts: int = 6
    delivery_retry_seconds: float = 2.0
    # A reply a channel keeps asking us to hold (flood control) fails once it would leave
    # later than this after it was written.
    delivery_max_wait_seconds: float = 3600.0
    sweep_interval_seconds: float = 30.0

    bot_enabled: bool = False
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 5.0

    sentiment_enabled: bool = True
    sentiment_model: str | None = None
    sentiment_threshold: float | None = None
    sentiment_label_map: dict[str, str] = Field(default_factory=dict)
    sentiment_threads: int = 1
    sentiment_workers: int = 2
    sentiment_batch: int = 16
    sentiment_wait_ms: float = 5.0
    anger_threshold: float | None = None
    slide_window: int = 3
    slide_threshold: float = 0.6

    # Service levels (core/sla.py). A customer waiting in the queue (pending) longer than
    # SLA_FIRST_RESPONSE_MINUTES, or waiting for the assigned agent's reply (open) longer than
    # SLA_WAIT_MINUTES, raises one persisted `sla_breach` alert per wait, pushed to
    # supervisors; the console lists waits past SLA_WARNING_MINUTES. Checked every
    # SLA_CHECK_SECONDS by every process (raising is idempotent).
    sla_first_response_minutes: float = Field(default=15.0, gt=0)
    sla_wait_minutes: float = Field(default=15.0, gt=0)
    sla_warning_minutes: float = Field(default=5.0, gt=0)
    sla_check_seconds: float = Field(default=15.0, gt=0)

    channels: str = "memory"

    # Agents' attachments (core/files.py): kept on disk by content hash, capped in size;
    # links for visitors and webhook integrations expire after FILE_LINK_TTL_SECONDS.
    files_dir: Path = Path("var/files")
    files_max_bytes: int = 10 * 1024 * 1024
    file_link_ttl_seconds: int = 3600

    # Outgoing event webhooks (core/webhooks.py): retried with backoff for hours, then failed;
    # an endpoint failing this many times in a row is paused until an admin resumes it.
    webhook_poll_seconds: float = 1.0
    webhook_retry_seconds: float = 30.0
    webhook_max_retry_seconds: float = 3600.0
    webhook_max_attempts: int = 12
    webhook_pause_after: int = 25
    webhook_timeout_seconds: float = 10.0

    @property
    def uses_default_secret(self) -> bool:
        """Whether SECRET_KEY is still the development value anyone can read in the source."""
        return self.secret_key.get_secret_value() == DEV_SECRET_KEY

    @property
    def angry_threshold(self) -> float | None:
        """P(angry) at which a message is angry; ``ANGER_THRESHOLD`` (an alias) wins."""
        return (
            self.anger_threshold if self.anger_threshold is not None else self.sentiment_threshold
        )

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The SQLite file path, if the database is a SQLite file."""
        if not self.is_sqlite:
            return None
        tail = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        return Path(tail) if tail and tail != ":memory:" else None

    def channel_names(self) -> list[str]:
        """Enabled channel registry names, in the order given."""
        return [c.strip() for c in self.channels.split(",") if c.strip()]

    def section(self, name: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """A channel's settings: ``<NAME>_*`` variables with the prefix cut, lower-cased."""
        env = os.environ if environ is None else environ
        prefix = f"{name.upper()}_"
        return {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)}
