"""Find a running Rasa server, or start one with bot/serve.sh for the duration of a command."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVE = REPO / "bot" / "serve.sh"
DEFAULT_URL = "http://127.0.0.1:5005"


def rasa_url() -> str:
    """RASA_URL, or the loopback default."""
    return os.environ.get("RASA_URL", DEFAULT_URL).rstrip("/")


def is_ready(url: str, timeout: float = 2.0) -> bool:
    """Whether a Rasa server answers /status with a loaded model."""
    try:
        with urllib.request.urlopen(f"{url}/status", timeout=timeout) as resp:
            return b'"model_file"' in resp.read()
    except OSError:
        return False


@contextmanager
def running_rasa(url: str | None = None) -> Iterator[str]:
    """Yield the URL of a ready server; start one (and stop it afterwards) if none answers."""
    url = url or rasa_url()
    if is_ready(url):
        yield url
        return
    if url != DEFAULT_URL:
        raise RuntimeError(f"no Rasa server at {url}, and only {DEFAULT_URL} can be started here")
    subprocess.run([str(SERVE), "up"], check=True, stdout=subprocess.DEVNULL)
    try:
        yield url
    finally:
        subprocess.run([str(SERVE), "down"], check=False, stdout=subprocess.DEVNULL)
