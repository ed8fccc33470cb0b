#!/usr/bin/env bash
# Create .venv-rasa: Rasa 3.6.21 in its own venv (it pins libraries our app cannot share).
# Route A: CPython 3.10 (pyenv or PATH) + plain pip. Route B: Python 3.11 + exact pins.
# Idempotent: a stamp file records the route and pins; a second run returns at once.
# RASA_VENV picks the folder (default .venv-rasa).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${RASA_VENV:-.venv-rasa}
STAMP="$VENV/.tawasul-stamp"
PINS=bot/requirements-rasa-py311.txt
RASA_VERSION=3.6.21
export PIP_DISABLE_PIP_VERSION_CHECK=1

want="rasa==$RASA_VERSION $(sha256sum "$PINS" | cut -c1-16)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want"* ]]; then
    echo "rasa venv up to date ($(cat "$STAMP"))"
    exit 0
fi

find_py310() {
    local root
    if command -v pyenv >/dev/null 2>&1; then
        root=$(pyenv root)
        for p in "$root"/versions/3.10.*/bin/python3.10; do
            [[ -x "$p" ]] && { echo "$p"; return 0; }
        done
    fi
    command -v python3.10 2>/dev/null && "$(command -v python3.10)" -c 'import sys' 2>/dev/null && return 0
    return 1
}

start=$(date +%s)
rm -rf "$VENV"
# RASA_ROUTE=B forces the Python 3.11 route (to test it where 3.10 exists).
if [[ "${RASA_ROUTE:-}" != "B" ]] && py=$(find_py310); then
    route="A (CPython 3.10: $py)"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install -q "rasa==$RASA_VERSION"
else
    py=$(command -v python3.11) || { echo "need python3.10 or python3.11" >&2; exit 1; }
    route="B (Python 3.11 + pins: $py)"
    "$py" -m venv "$VENV"
    # Rasa declares python<3.11; install its exact dependency set, then rasa itself without deps.
    "$VENV/bin/pip" install -q -r "$PINS"
    "$VENV/bin/pip" install -q --no-deps --ignore-requires-python "rasa==$RASA_VERSION" rasa-sdk==3.6.2
fi
"$VENV/bin/python" -c 'import rasa; print("rasa", rasa.__version__)'
echo "$want route $route $(( $(date +%s) - start ))s" > "$STAMP"
echo "rasa venv ready: route $route in $(( $(date +%s) - start )) s"
