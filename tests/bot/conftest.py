"""The `rasa_stack` fixture: a trained Rasa and the action server on test ports, an orders stub."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
ORDER = {
    "number": "A-10234",
    "status": "shipped",
    "eta": "2026-11-25",
    "carrier": "Aramex",
    "total": "120.00",
    "currency": "SAR",
    "cancellable": False,
}


def free_port() -> int:
    """A loopback port nobody listens on right now (fixed ports clash with other runs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OrdersHandler(BaseHTTPRequestHandler):
    """GET /api/v1/orders/{n}: A-10234 and 10234 exist, A-50000 fails with 500, others 404."""

    def do_GET(self) -> None:
        """Answer per the orders API contract."""
        number = urlparse(self.path).path.rsplit("/", 1)[-1]
        if number == "A-50000":
            self._send(500, {"error": {"code": "internal", "message": "boom"}})
        elif number in ("A-10234", "10234"):
            self._send(200, dict(ORDER, number=number))
        else:
            self._send(404, {"error": {"code": "not_found", "message": "no such order"}})

    def _send(self, status: int, body: object) -> None:
        """Write a JSON response."""
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="session")
def rasa_stack() -> Iterator[str]:
    """Start Rasa and actions on free ports via bot/serve.sh; skip only if not installed/trained."""
    if not (REPO / ".venv-rasa" / "bin" / "rasa").exists():
        pytest.skip("no Rasa venv (.venv-rasa): run `make rasa-venv`")
    if not list((REPO / "bot" / "models").glob("*.tar.gz")):
        pytest.skip("no trained model in bot/models: run `make train`")
    orders = ThreadingHTTPServer(("127.0.0.1", 0), OrdersHandler)
    thread = threading.Thread(target=orders.serve_forever, daemon=True)
    thread.start()
    rasa_port, actions_port = free_port(), free_port()
    env = dict(
        os.environ,
        RASA_PORT=str(rasa_port),
        ACTIONS_PORT=str(actions_port),
        RASA_RUN=str(REPO / ".rasa" / "run-test"),
        TAWASUL_API_URL=f"http://127.0.0.1:{orders.server_address[1]}",
        # Loading TensorFlow and the model takes ~20 s alone but minutes on a loaded 2-core box.
        RASA_WAIT="360",
        TAWASUL_BOT_TOKEN="test-token",
    )
    serve = str(REPO / "bot" / "serve.sh")
    # A stack left over from an interrupted run would point at an older orders stub.
    subprocess.run([serve, "down"], env=env, check=False, timeout=60)
    try:
        subprocess.run([serve, "up"], env=env, check=True, timeout=420)
        yield f"http://127.0.0.1:{rasa_port}"
    finally:
        subprocess.run([serve, "down"], env=env, check=False, timeout=60)
        orders.shutdown()
        orders.server_close()
        thread.join(timeout=5)
