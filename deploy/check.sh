#!/usr/bin/env bash
# Checks the operator files in deploy/ against the real server:
#   1. the alert rules: `promtool check rules`, and their unit tests
#      (`promtool test rules deploy/alerthub.rules.test.yml`);
#   2. a real /metrics scrape of the binary (with REDIS_URL set, so the
#      Redis series exist): `promtool check metrics`;
#   3. the Grafana dashboard is valid JSON, and every metric name that its
#      panels and the alert rules reference exists in that scrape;
#   4. `docker compose config` on deploy/compose.yaml (no image is pulled);
#   5. every FROM of deploy/Dockerfile is pinned by digest.
# Needs promtool (Debian: apt-get install prometheus), python3, curl,
# docker compose or docker-compose, and a built binary:
# ALERTHUB_BIN, default target/debug/alerthub (`cargo build` first).
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "deploy/check.sh: $*" >&2; exit 1; }
step() { printf -- '--> %s\n' "$*"; }

command -v promtool >/dev/null || die "promtool is missing (apt-get install prometheus; the service need not run)"
bin="${ALERTHUB_BIN:-target/debug/alerthub}"
[ -x "$bin" ] || die "no server binary at $bin (cargo build, or set ALERTHUB_BIN)"

step "promtool check rules / test rules"
promtool check rules deploy/alerthub.rules.yml
(cd deploy && promtool test rules alerthub.rules.test.yml)

step "a real scrape of $bin"
work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# Nothing listens on port 9 (discard): the node runs with Redis "down",
# which is enough for its Redis series to exist.
env -i PATH="$PATH" RUST_LOG=warn \
  ALERTHUB_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/check.db" \
  REDIS_URL="redis://127.0.0.1:9" ALERTHUB_REDIS_PREFIX="alerthub-check-$$:" \
  ALERTHUB_JWT_SECRET=deploy-check-secret-0123456789abcdef ALERTHUB_SERVICE_KEYS=deploy-check-key-0123 \
  ALERTHUB_RETENTION_DAYS=30 \
  "$bin" serve 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
  curl -fsS -o "$work/metrics.txt" "http://127.0.0.1:$port/metrics" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; die "the server exited"; }
  sleep 0.2
done
[ -s "$work/metrics.txt" ] || { cat "$work/server.log" >&2; die "no /metrics answer"; }
step "promtool check metrics"
promtool check metrics <"$work/metrics.txt"

step "Grafana dashboard and rules reference only metrics the server exports"
python3 - "$work/metrics.txt" deploy/grafana/alerthub-dashboard.json deploy/alerthub.rules.yml <<'PY'
import json, re, sys
scrape, dashboard_path, rules_path = sys.argv[1:4]
exported = set()
for line in open(scrape):
    if line.startswith("#") or not line.strip():
        continue
    exported.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
NAME = re.compile(r"\b((?:alerthub|process)_[a-z0-9_]+)")
problems = []
with open(dashboard_path) as f:
    dashboard = json.load(f)  # fails on invalid JSON
exprs = []
ids = set()
def walk(panels):
    for p in panels:
        if p.get("id") in ids:
            problems.append(f"panel id {p.get('id')} used twice")
        ids.add(p.get("id"))
        if p.get("type") != "row":
            if not p.get("targets"):
                problems.append(f"panel {p.get('title')!r} has no targets")
            for t in p.get("targets", []):
                exprs.append((f"panel {p.get('title')!r}", t.get("expr", "")))
        walk(p.get("panels", []))
walk(dashboard.get("panels", []))
for v in dashboard.get("templating", {}).get("list", []):
    exprs.append((f"variable {v.get('name')!r}", v.get("query", "")))
rules = open(rules_path).read()
for m in re.finditer(r"expr: *(\|\n(?:[ ]{10,}.*\n)+|.*)", rules):
    exprs.append(("alert rule", m.group(1)))
if not exprs:
    problems.append("no expressions found")
names = set()
for where, expr in exprs:
    for name in NAME.findall(expr):
        names.add(name)
        if name not in exported:
            problems.append(f"{where} uses {name}, which the server does not export")
if problems:
    sys.exit("\n".join(problems))
print(f"{len(exprs)} expressions, {len(names)} metric names, all exported")
PY

step "docker compose config"
compose_env=(ALERTHUB_JWT_SECRET=check ALERTHUB_SERVICE_KEYS=check POSTGRES_PASSWORD=check)
if docker compose version >/dev/null 2>&1; then
  env "${compose_env[@]}" docker compose -f deploy/compose.yaml config -q
elif command -v docker-compose >/dev/null; then
  env "${compose_env[@]}" docker-compose -f deploy/compose.yaml config -q
else
  die "neither 'docker compose' nor 'docker-compose' is available (apt-get install docker-compose)"
fi
# Without the secrets the file must refuse to render, naming what is missing.
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
if env -u ALERTHUB_JWT_SECRET -u ALERTHUB_SERVICE_KEYS -u POSTGRES_PASSWORD \
     "${compose[@]}" -f deploy/compose.yaml config -q 2>/dev/null; then
  die "deploy/compose.yaml renders without secrets"
fi

step "deploy/Dockerfile base images pinned by digest"
unpinned="$(grep -E '^FROM ' deploy/Dockerfile | grep -v '@sha256:[0-9a-f]\{64\}' || true)"
[ -z "$unpinned" ] || die "unpinned base image: $unpinned"

step "deploy checks passed"
