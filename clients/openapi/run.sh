#!/usr/bin/env bash
# Checks the OpenAPI document the server itself serves:
#   1. openapi-spec-validator: GET /api/v1/openapi.json is valid OpenAPI 3.1;
#   2. schemathesis against the same running server: no 5xx, and every
#      status, header and body conforms to the document.
# The server is the debug binary on a free loopback port, SQLite in a
# temporary directory, development mode, with a service key, a user JWT and
# an opaque user token made for this run; it is stopped on exit.
#
# Usage: clients/openapi/run.sh [MAX_EXAMPLES]   (default 40 per operation)
# Env:   CARGO_TARGET_DIR (where target/debug/alerthub is), ALERTHUB_BIN,
#        ALERTHUB_OPENAPI_VENV (default $CARGO_TARGET_DIR/openapi-venv; made
#        and filled from requirements.txt when it lacks the checkers).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${ALERTHUB_BIN:-$target/debug/alerthub}"
venv="${ALERTHUB_OPENAPI_VENV:-$target/openapi-venv}"
examples="${1:-40}"

if [ -z "${ALERTHUB_BIN:-}" ]; then
  (cd "$root" && cargo build -q --bin alerthub)
fi
if ! "$venv/bin/python" -c 'import schemathesis, openapi_spec_validator' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
fi

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export DATABASE_URL="sqlite://$work/openapi.db"
export ALERTHUB_DEV=1
export ALERTHUB_SERVICE_KEYS; ALERTHUB_SERVICE_KEYS="$(secret)"
export ALERTHUB_JWT_SECRET; ALERTHUB_JWT_SECRET="$(secret)"
export ALERTHUB_REST_RATE_LIMIT=100000/200000
export RUST_LOG="${RUST_LOG:-warn}"

"$bin" serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -sf "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done

export ALERTHUB_OPENAPI_SERVICE_KEY="$ALERTHUB_SERVICE_KEYS"
export ALERTHUB_OPENAPI_USER_JWT; ALERTHUB_OPENAPI_USER_JWT="$("$bin" token jwt openapi_user --ttl 1h)"
export ALERTHUB_OPENAPI_USER_TOKEN; ALERTHUB_OPENAPI_USER_TOKEN="$("$bin" token create openapi_user)"
# A few alerts of the run's user, so reads and marks meet real ones.
for i in 1 2 3; do
  curl -sf -o /dev/null -H "Authorization: Bearer $ALERTHUB_OPENAPI_SERVICE_KEY" \
    -H 'Content-Type: application/json' "$base/api/v1/alerts" \
    -d "{\"user_id\":\"openapi_user\",\"breach_id\":\"seed_$i\",\"title\":\"Seed $i\",\"severity\":\"HIGH\",\"confidence\":0.5}"
done

echo "==> openapi-spec-validator (OpenAPI 3.1)"
curl -sf "$base/api/v1/openapi.json" -o "$work/openapi.json"
"$venv/bin/openapi-spec-validator" --schema 3.1 "$work/openapi.json"

echo "==> schemathesis ($examples examples per operation)"
status=0
cd "$work" # schemathesis keeps its state in ./.schemathesis
"$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/api/v1/openapi.json" \
  --url "$base" \
  --max-examples "$examples" \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  --no-color \
  --request-timeout 10 ${SCHEMATHESIS_EXTRA:-} || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 40 lines)" >&2
  tail -n 40 "$work/server.log" >&2
fi
exit "$status"
