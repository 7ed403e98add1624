#!/usr/bin/env bash
# A/B of the application read on SQLite: two release binaries (e.g. main and an older commit's,
# built with its own CARGO_TARGET_DIR) served at once on fresh data dirs, wrk 6 s against each
# in turn, three rounds, so both see the same machine. Usage: bench-api-ab.sh BIN_A BIN_B
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
setup() { # BIN PORT -> prints "token app"
  local bin=$1 port=$2 dir; dir=$(mktemp -d)
  unset DATABASE_URL
  RUST_LOG=warn "$bin" keys init --data-dir "$dir" >/dev/null
  RUST_LOG=warn "$bin" demo --data-dir "$dir" >/dev/null
  RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir" >"$dir/serve.log" 2>&1 &
  echo $! > "$dir/pid"; echo "$dir" > "/tmp/np-ab-$port.dir"
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  local api="http://127.0.0.1:$port/api/v1" token app start end
  token=$(curl -s -X POST "$api/sessions" -H 'content-type: application/json' -d '{"login":"91310106MA1FL0D44W","password":"demo-firm-2026"}' | json '["token"]')
  start=$(date -d '+3 days' +%F); end=$(date -d '+5 days' +%F)
  sed -e "s/START_DATE/$start/; s/END_DATE/$end/" "$HERE/bench-form.json" > "$dir/form.json"
  app=$(curl -s -X POST "$api/applications" -H "authorization: Bearer $token" -H 'content-type: application/json' --data @"$dir/form.json" | json '["id"]')
  curl -s -X POST "$api/applications/$app/materials" -H "authorization: Bearer $token" -F kind=business_license -F file=@"$HERE/../fixtures/samples/sample-scan.png" >/dev/null
  curl -s -X POST "$api/applications/$app/submit" -H "authorization: Bearer $token" >/dev/null
  echo "$token $app"
}
read TA AA < <(setup "${1:?usage: bench-api-ab.sh BIN_A BIN_B}" 18301)
read TB AB < <(setup "${2:?usage: bench-api-ab.sh BIN_A BIN_B}" 18302)
sleep 3
for i in 1 2 3; do
  for side in A B; do
    if [ $side = A ]; then port=18301; t=$TA; a=$AA; else port=18302; t=$TB; a=$AB; fi
    r=$(wrk -t2 -c32 -d6s --latency -H "Authorization: Bearer $t" "http://127.0.0.1:$port/api/v1/applications/$a" | grep -E "Requests/sec|99%" | tr -s ' ' | tr '\n' ' ')
    echo "$side run $i: $r"
  done
done
for port in 18301 18302; do d=$(cat "/tmp/np-ab-$port.dir"); kill "$(cat "$d/pid")"; rm -rf "$d" "/tmp/np-ab-$port.dir"; done
