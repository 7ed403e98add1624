#!/usr/bin/env bash
# Server render time of the pages on loopback with wrk. Usage: bench-pages.sh BIN [EXAMPLE]
#  1. On the data `make bench-corpus` left (24 real cases with their materials and findings), if
#     it is there: the case page of a case returned for correction, as its firm sees it, with its
#     findings made twelve (scripts/bench-seed-findings.py, on the copy), and the reviewer's queue.
#  2. A reviewer's queue of QUEUE_TASKS (500) open tasks on a fresh SQLite data dir: the demo
#     firm creates and submits the cases through the API, EXAMPLE (bench_finish_prereviews, the
#     worker's stand-in) finishes their pre-reviews, then the queue /review and the oldest task's
#     page /review/tasks/{id}, as the demo construction reviewer of Jing'an.
set -euo pipefail
BIN=${1:?usage: bench-pages.sh path/to/release/nightpermit [path/to/bench_finish_prereviews]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEED=${2:-$(dirname "$BIN")/examples/bench_finish_prereviews}
TASKS=${QUEUE_TASKS:-500}
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PID=; DIRS=()
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; }; rm -rf "${DIRS[@]}"; }
trap cleanup EXIT

# serve DIR: a release server without its in-process worker (no OCR competes for the cores).
serve() {
  PORT=$(free_port)
  NIGHTPERMIT__WORKER__IN_PROCESS=false RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$1" >"$1/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.2; done
  echo "the server did not start; see $1/serve.log" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
login() {
  curl -s -X POST "http://127.0.0.1:$PORT/api/v1/sessions" -H 'content-type: application/json' \
    -d "{\"login\":\"$1\",\"password\":\"$2\"}" | json '["token"]'
}
# measure PATH TOKEN: one wrk run with the session cookie.
measure() {
  local bytes
  bytes=$(curl -s -H "Cookie: np_session=$2" "http://127.0.0.1:$PORT$1" | wc -c)
  echo "== GET $1 ($bytes bytes of HTML)"
  wrk -t"$(( ${CONNECTIONS:-8} < 2 ? 1 : 2 ))" -c"${CONNECTIONS:-8}" -d"${DURATION:-10s}" --latency -H "Cookie: np_session=$2" "http://127.0.0.1:$PORT$1" \
    | grep -E "Requests/sec|50%|90%|99%|Non-2xx"
}

SRC=${CARGO_TARGET_DIR:-$ROOT/target}/bench-corpus/data
if [ -d "$SRC" ]; then
  CASE=${CASE:-$ROOT/../shared/corpus/dev/v12_credit_code_other_firm}
  DIR=$(mktemp -d); DIRS+=("$DIR"); cp -r "$SRC/." "$DIR/"
  DISTRICT=$(json '["district"]' < "$CASE/application.json")
  # The issue measures the case page with twelve findings; the corpus case has fewer: seed the copy.
  python3 "$ROOT/scripts/bench-seed-findings.py" "$DIR/nightpermit.db" "$(json '["credit_code"]' < "$CASE/firm.json")" "${FINDINGS:-12}"
  RUST_LOG=warn "$BIN" users add --username bench-reviewer --password bench-reviewer-1 --role reviewer \
    --department construction --district "$DISTRICT" --data-dir "$DIR" >/dev/null
  serve "$DIR"
  FIRM_TOKEN=$(login "$(json '["credit_code"]' < "$CASE/firm.json")" "$(json '["password"]' < "$CASE/firm.json")")
  APP=$(curl -s "http://127.0.0.1:$PORT/api/v1/applications" -H "authorization: Bearer $FIRM_TOKEN" | json '["items"][0]["id"]')
  measure "/applications/$APP" "$FIRM_TOKEN"
  measure /review "$(login bench-reviewer bench-reviewer-1)"
  stop
else
  echo "(no corpus data at $SRC: the real-case pages are skipped; make bench-corpus leaves it)"
fi

[ -x "$SEED" ] || { echo "no $SEED (fix: cargo build --release -p nightpermit-server --example bench_finish_prereviews)" >&2; exit 1; }
DIR=$(mktemp -d); DIRS+=("$DIR")
RUST_LOG=warn "$BIN" keys init --data-dir "$DIR" >/dev/null
RUST_LOG=warn "$BIN" demo --data-dir "$DIR" >/dev/null
serve "$DIR"
API="http://127.0.0.1:$PORT/api/v1"
FIRM_TOKEN=$(login 91310106MA1FL0D44W demo-firm-2026)
sed -e "s/START_DATE/$(date -d '+3 days' +%F)/; s/END_DATE/$(date -d '+5 days' +%F)/" \
  "$ROOT/scripts/bench-form.json" > "$DIR/form.json"
echo "== seeding $TASKS open review tasks in Jing'an"
for i in $(seq 1 "$TASKS"); do
  # One site per case, as in a real queue (the task page lists the site's earlier permits).
  sed -e "s/310106202012150101/3101062020$(printf %08d "$i")/" "$DIR/form.json" > "$DIR/case.json"
  app=$(curl -sf -X POST "$API/applications" -H "authorization: Bearer $FIRM_TOKEN" \
    -H 'content-type: application/json' --data @"$DIR/case.json" | json '["id"]')
  curl -sf -o /dev/null -X POST "$API/applications/$app/materials" -H "authorization: Bearer $FIRM_TOKEN" \
    -F kind=site_plan -F file=@"$ROOT/fixtures/samples/sample-scan.png"
  curl -sf -o /dev/null -X POST "$API/applications/$app/submit" -H "authorization: Bearer $FIRM_TOKEN"
done
seeded=$("$SEED" "$DIR")
REVIEWER_TOKEN=$(login jingan-construction demo-staff-2026)
TASK=$(curl -s "$API/review/tasks" -H "authorization: Bearer $REVIEWER_TOKEN" \
  | python3 -c "import sys,json; t=json.load(sys.stdin)['items']; print(len(t), t[0]['id'])")
echo "pre-reviews finished: $seeded; open construction tasks: ${TASK%% *}"
for path in /review "/review/tasks/${TASK##* }"; do
  # One request at a time first: the render time without wrk's queueing on the shared cores.
  for _ in 1 2 3; do curl -s -o /dev/null -H "Cookie: np_session=$REVIEWER_TOKEN" "http://127.0.0.1:$PORT$path"; done
  echo "single requests to $path (s): $(for _ in $(seq 1 20); do curl -s -o /dev/null -w '%{time_total} ' \
    -H "Cookie: np_session=$REVIEWER_TOKEN" "http://127.0.0.1:$PORT$path"; done)"
  measure "$path" "$REVIEWER_TOKEN"
done
