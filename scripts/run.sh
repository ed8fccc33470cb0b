#!/usr/bin/env bash
# `make run`: migrate, seed the demo, start Rasa + the action server, then serve the app.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export HOST=${HOST:-127.0.0.1} PORT=${PORT:-8080}
# One secret per run unless given: the action server uses it to call the orders API.
export BOT_TOKEN=${BOT_TOKEN:-$($PY -c 'import secrets; print(secrets.token_urlsafe(24))')}
export BOT_ENABLED=${BOT_ENABLED:-true}
$PY -m inbox migrate
$PY -m inbox demo
if [[ "$BOT_ENABLED" == "true" ]]; then
  trap 'bot/serve.sh down >/dev/null 2>&1 || true' EXIT
  # The bot is best-effort at start-up: if Rasa cannot start, conversations escalate to humans.
  TAWASUL_API_URL="http://127.0.0.1:$PORT" TAWASUL_BOT_TOKEN="$BOT_TOKEN" bot/serve.sh up \
    || echo "warning: Rasa did not start; the bot will hand every conversation to humans" >&2
fi
echo "Tawasul: open http://$HOST:$PORT/  (login admin / ${TAWASUL_DEMO_PASSWORD:-tawasul-demo})"
$PY -m inbox serve
