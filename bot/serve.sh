#!/usr/bin/env bash
# Start (up) or stop (down) Rasa and the action server in the background, both on 127.0.0.1.
#   bot/serve.sh up     start both, wait until /status reports a loaded model (RASA_WAIT, 120 s)
#   bot/serve.sh down   stop both (pid files under .rasa/run)
#   bot/serve.sh status
# Ports: RASA_PORT (5005), ACTIONS_PORT (5055). Pid files and logs: RASA_RUN (.rasa/run).
# The action server calls the orders API at TAWASUL_API_URL with TAWASUL_BOT_TOKEN (env).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$BOT_ROOT"
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
RASA_WAIT=${RASA_WAIT:-120}
export ACTION_ENDPOINT_URL=${ACTION_ENDPOINT_URL:-http://127.0.0.1:$ACTIONS_PORT/webhook}
mkdir -p "$RASA_RUN"

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_one() {
    local pidfile=$RASA_RUN/$1.pid
    if alive "$pidfile"; then
        local pid; pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
        echo "stopped $1 ($pid)"
    fi
    rm -f "$pidfile"
}

start_actions() {
    alive "$RASA_RUN/actions.pid" && return 0
    # rasa-sdk binds 0.0.0.0 unless SANIC_HOST says otherwise; keep it on loopback.
    export SANIC_HOST=127.0.0.1
    local py
    if [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import rasa_sdk' 2>/dev/null; then
        py=.venv/bin/python   # preferred: the app venv with rasa-sdk 3.21.1
    else
        py=$RASA_VENV/bin/python   # fallback: the rasa-sdk that came with Rasa
    fi
    nohup "$py" -m rasa_sdk --actions bot.actions -p "$ACTIONS_PORT" \
        > "$RASA_RUN/actions.log" 2>&1 &
    echo $! > "$RASA_RUN/actions.pid"
}

start_rasa() {
    alive "$RASA_RUN/rasa.pid" && return 0
    [[ -x "$RASA_VENV/bin/rasa" ]] || { echo "no Rasa venv: run 'make rasa-venv'" >&2; exit 1; }
    local model; model=$(bot_model_path)
    if [[ ! -f "$model" ]]; then
        # Fall back to the newest model: serving a stale one beats serving none.
        model=$(ls -t "$RASA_MODELS"/*.tar.gz 2>/dev/null | head -1 || true)
        [[ -n "$model" ]] || { echo "no trained model: run 'make train'" >&2; exit 1; }
        echo "warning: no model for the current data; serving $model" >&2
    fi
    nohup "$RASA_VENV/bin/rasa" run --enable-api -i 127.0.0.1 -p "$RASA_PORT" \
        --model "$model" --endpoints bot/endpoints.yml --credentials bot/credentials.yml \
        > "$RASA_RUN/rasa.log" 2>&1 &
    echo $! > "$RASA_RUN/rasa.pid"
}

wait_ready() {
    local start=$SECONDS
    while (( SECONDS - start < RASA_WAIT )); do
        alive "$RASA_RUN/rasa.pid" || { echo "rasa exited; see $RASA_RUN/rasa.log" >&2; tail -20 "$RASA_RUN/rasa.log" >&2; return 1; }
        if curl -sf "http://127.0.0.1:$RASA_PORT/status" 2>/dev/null | grep -q '"model_file"'; then
            if curl -sf "http://127.0.0.1:$ACTIONS_PORT/health" >/dev/null 2>&1; then
                echo "rasa ready on 127.0.0.1:$RASA_PORT, actions on 127.0.0.1:$ACTIONS_PORT ($(( SECONDS - start )) s)"
                return 0
            fi
        fi
        sleep 0.5
    done
    echo "rasa not ready after $RASA_WAIT s; see $RASA_RUN/rasa.log" >&2
    return 1
}

case "${1:-up}" in
    up) start_actions; start_rasa; wait_ready ;;
    down) stop_one rasa; stop_one actions ;;
    status)
        for s in rasa actions; do
            if alive "$RASA_RUN/$s.pid"; then echo "$s: running ($(cat "$RASA_RUN/$s.pid"))"; else echo "$s: stopped"; fi
        done ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
