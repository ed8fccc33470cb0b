#!/usr/bin/env bash
# Clone this checkout afresh, run `make run`, and check the service answers like a user expects.
set -euo pipefail
src=$(git rev-parse --show-toplevel)
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git clone -q "$src" "$dir/tawasul"
cd "$dir/tawasul"
log="$dir/run.log"
PORT=$port setsid make run >"$log" 2>&1 &
pid=$!
cleanup() { kill -- -"$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1200); do
  curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "make run died"; exit 1; }
  sleep 1
done
grep -q "login admin" "$log" || { cat "$log"; echo "make run did not print the login"; exit 1; }
token=$(curl -sf -X POST "http://127.0.0.1:$port/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"login": "admin", "password": "tawasul-demo"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
count=$(curl -sf "http://127.0.0.1:$port/api/v1/conversations" -H "Authorization: Bearer $token" \
  | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
[ "$count" -ge 4 ] || { echo "expected the demo conversations, got $count"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/conversations")
[ "$code" = 401 ] || { echo "unauthenticated list answered $code"; exit 1; }
echo "smoke: make run serves on port $port; demo login works; $count conversations listed"
