#!/usr/bin/env bash
# Scores the pre-review on the realistic dev corpus: starts `serve` (release build, its in-process
# worker) on a fresh data dir and a free port, runs ../shared/corpus/score.py against it, prints
# the summary and keeps results.json under target for inspection.
#   bash scripts/bench-corpus.sh BIN [extra score.py args, e.g. --only v03]
set -euo pipefail
BIN=${1:?usage: bench-corpus.sh path/to/nightpermit [score.py args]}
shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/../shared/corpus}
[ -f "$CORPUS/score.py" ] || { echo "no corpus at $CORPUS (fix: set CORPUS=path/to/shared/corpus)" >&2; exit 1; }
OUT=${CARGO_TARGET_DIR:-$ROOT/target}/bench-corpus
rm -rf "$OUT"; mkdir -p "$OUT"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$OUT/data" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { echo "server did not start:" >&2; tail -20 "$OUT/server.log" >&2; exit 1; }
  sleep 0.2
done
python3 "$CORPUS/score.py" --base-url "http://127.0.0.1:$PORT" --out "$OUT/results.json" "$@" | tee "$OUT/score.txt"
echo "results: $OUT/results.json  server log: $OUT/server.log"
