"""The UI pages and assets are served with a strict content security policy."""

from __future__ import annotations

from tests.inbox.conftest import Client


async def test_pages_and_assets(client: Client) -> None:
    """/ and /supervisor serve HTML with a no-inline-script CSP; their scripts load."""
    for path, script in (("/", "inbox.js"), ("/supervisor", "supervisor.js")):
        resp = await client.get(path)
        assert resp.status == 200
        assert resp.content_type == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert f"/static/ui/{script}" in await resp.text()
    for asset in (
        "inbox.js",
        "supervisor.js",
        "common.js",
        "i18n.js",
        "charts.js",
        "app.css",
        "activity.js",
    ):
        assert (await client.get(f"/static/ui/{asset}")).status == 200


async def test_scripts_never_parse_data_as_html(client: Client) -> None:
    """No script writes markup: no innerHTML, outerHTML, insertAdjacentHTML or document.write."""
    for asset in ("inbox.js", "supervisor.js", "common.js", "charts.js", "activity.js"):
        source = await (await client.get(f"/static/ui/{asset}")).text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert sink not in source, (asset, sink)
