#!/usr/bin/env bash
# Load test of the API on loopback with wrk: GET /api/v1/applications/{id} (reads) and
# create+submit (writes), on SQLite and on Postgres. Usage: bench-api.sh PATH/TO/nightpermit
# Prints wrk's summary per scenario; the figures go into docs/benchmarks.md.
set -euo pipefail
BIN=${1:?usage: bench-api.sh path/to/release/nightpermit}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18181}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
API="http://127.0.0.1:$PORT/api/v1"
HERE=$(cd "$(dirname "$0")" && pwd)
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }

run_backend() {
  local backend=$1 dir
  dir=$(mktemp -d)
  if [ "$backend" = postgres ]; then
    local db="np_bench_$(date +%s)"
    psql "$PG_ADMIN" -qc "CREATE DATABASE $db"
    export DATABASE_URL="${PG_ADMIN%/*}/$db"
  else
    unset DATABASE_URL
  fi
  RUST_LOG=warn "$BIN" keys init --data-dir "$dir" >/dev/null
  RUST_LOG=warn "$BIN" demo --data-dir "$dir" >/dev/null
  RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$dir" >"$dir/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
  local token app start end
  token=$(curl -s -X POST "$API/sessions" -H 'content-type: application/json' \
    -d '{"login":"91310106MA1FL0D44W","password":"demo-firm-2026"}' | json '["token"]')
  start=$(date -d '+3 days' +%F); end=$(date -d '+5 days' +%F)
  sed -e "s/START_DATE/$start/; s/END_DATE/$end/" "$HERE/bench-form.json" > "$dir/form.json"
  app=$(curl -s -X POST "$API/applications" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    --data @"$dir/form.json" | json '["id"]')
  curl -s -X POST "$API/applications/$app/materials" -H "authorization: Bearer $token" \
    -F kind=business_license -F file=@"$HERE/../fixtures/samples/sample-scan.png" >/dev/null
  # Read a submitted case, as a firm checking its pre-review result does.
  curl -s -X POST "$API/applications/$app/submit" -H "authorization: Bearer $token" >/dev/null
  sleep 2

  echo "== $backend: GET /api/v1/applications/{id} ($CONNECTIONS connections, $DURATION)"
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "$API/applications/$app" \
    | grep -E "Requests/sec|50%|90%|99%|requests in|Non-2xx"
  echo "== $backend: create + submit pairs ($CONNECTIONS connections, $DURATION)"
  TOKEN=$token FORM="$dir/form.json" wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/bench-create-submit.lua" "$API/applications" \
    | grep -E "Requests/sec|50%|90%|99%|requests in|Non-2xx|pairs"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if [ "$backend" = postgres ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS ${DATABASE_URL##*/}"; fi
  rm -rf "$dir"
}

run_backend sqlite
run_backend postgres
