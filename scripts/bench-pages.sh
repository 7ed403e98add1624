#!/usr/bin/env bash
# Server render time of the pages on loopback with wrk, on the data `make bench-corpus` left
# (24 real cases with their materials and findings; `bench-corpus.sh BIN --only v12` is enough):
# the case page of a case returned for correction, as its firm sees it, with its findings made
# twelve (scripts/bench-seed-findings.py, on the copy), and the reviewer's queue.
# Usage: bench-pages.sh BIN
set -euo pipefail
BIN=${1:?usage: bench-pages.sh path/to/release/nightpermit}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${CARGO_TARGET_DIR:-$ROOT/target}/bench-corpus/data
[ -d "$SRC" ] || { echo "no corpus data at $SRC (fix: run make bench-corpus first)" >&2; exit 1; }
CASE=${CASE:-$ROOT/../shared/corpus/dev/v12_credit_code_other_firm}
DIR=$(mktemp -d); cp -r "$SRC/." "$DIR/"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
DISTRICT=$(json '["district"]' < "$CASE/application.json")
# The issue measures the case page with twelve findings; the corpus case has fewer: seed the copy.
python3 "$ROOT/scripts/bench-seed-findings.py" "$DIR/nightpermit.db" "$(json '["credit_code"]' < "$CASE/firm.json")" "${FINDINGS:-12}"
RUST_LOG=warn "$BIN" users add --username bench-reviewer --password bench-reviewer-1 --role reviewer \
  --department construction --district "$DISTRICT" --data-dir "$DIR" >/dev/null
NIGHTPERMIT__WORKER__IN_PROCESS=false RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DIR" >"$DIR/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
API="http://127.0.0.1:$PORT/api/v1"
login() { curl -s -X POST "$API/sessions" -H 'content-type: application/json' -d "{\"login\":\"$1\",\"password\":\"$2\"}" | json '["token"]'; }
FIRM_TOKEN=$(login "$(json '["credit_code"]' < "$CASE/firm.json")" "$(json '["password"]' < "$CASE/firm.json")")
APP=$(curl -s "$API/applications" -H "authorization: Bearer $FIRM_TOKEN" | json '["items"][0]["id"]')
REVIEWER_TOKEN=$(login bench-reviewer bench-reviewer-1)
for page in "/applications/$APP|$FIRM_TOKEN" "/review|$REVIEWER_TOKEN"; do
  path=${page%%|*}; token=${page##*|}
  bytes=$(curl -s -H "Cookie: np_session=$token" "http://127.0.0.1:$PORT$path" | wc -c)
  echo "== GET $path ($bytes bytes of HTML)"
  wrk -t2 -c8 -d${DURATION:-10s} --latency -H "Cookie: np_session=$token" "http://127.0.0.1:$PORT$path" \
    | grep -E "Requests/sec|50%|90%|99%"
done
