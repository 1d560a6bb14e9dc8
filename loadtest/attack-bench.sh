#!/usr/bin/env bash
# Replays the attack campaign's costly requests (issue 11) against a cohort binary and prints
# what each cost: wall time of the request, and the longest /healthz answer while it ran.
# Everything runs on 127.0.0.1 inside a private network namespace (scripts/netns.sh); the server is
# stopped by its PID at the end. Bounded: a few dozen requests, each with a 30 s limit.
#   loadtest/attack-bench.sh [path/to/cohort]     (default: the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-/var/tmp/cohort-target}/debug/cohort}"
[ -x "$bin" ] || { echo "no cohort binary at $bin (cargo build)" >&2; exit 1; }
if [ "${ATTACK_BENCH_INSIDE:-}" != 1 ]; then
  exec scripts/netns.sh env ATTACK_BENCH_INSIDE=1 "$0" "$bin"
fi

dir=$(mktemp -d)
db="$dir/bench.db"
key=ck_bench_admin_key_0123456789abcdef
port=18190
"$bin" --http 127.0.0.1:$port --db "sqlite://$db" --admin-key "$key" --no-demo \
  --udp-port 47000 --api-rate 0 --log-level warn >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

api() { # method path [json] -> prints "status seconds"
  curl -s -o "$dir/body" -w '%{http_code} %{time_total}' --max-time 30 -X "$1" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$base$2"
}

# Times `api "$@"` while probing /healthz every 50 ms; prints the request and the worst probe.
measure() {
  local label=$1; shift
  echo 0 >"$dir/worst"
  ( worst=0; while :; do
      t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 30 "$base/healthz")
      worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (a > b ? a : b) }')
      echo "$worst" >"$dir/worst"; sleep 0.05
    done ) 2>/dev/null &
  local probe=$!
  local out; out=$(api "$@")
  sleep 0.2; kill "$probe"; wait "$probe" 2>/dev/null || true
  printf '%-58s HTTP %s in %6.3f s; slowest /healthz meanwhile %6.3f s\n' "$label" \
    "${out% *}" "${out#* }" "$(cat "$dir/worst")"
}

room=$(curl -s -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  --data '{"name":"Bench room","time_zone":"Europe/Berlin"}' "$base/api/v1/rooms" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

measure "PUT FREQ=SECONDLY;BYMONTH=12 from 2000" PUT "/api/v1/rooms/$room/schedule" \
  '{"rrule":"FREQ=SECONDLY;BYMONTH=12","start":"2000-01-01T00:00","duration_minutes":1}'
measure "PUT 14 meetings a day from 2000 (accepted)" PUT "/api/v1/rooms/$room/schedule" \
  '{"rrule":"FREQ=HOURLY;BYHOUR=8,9,10,11,12,13,14,15,16,17,18,19,20,21","start":"2000-01-01T08:00","duration_minutes":30}'
measure "PATCH: move a meeting in 2199" PATCH "/api/v1/rooms/$room/occurrences/2199-06-03T09:00" \
  '{"start":"2199-06-03T22:00"}'
moves=$(python3 -c 'import json; print(json.dumps([{"occurrence":f"2199-06-{d:02d}T{h}:00","start":f"2199-06-{d:02d}T{h}:30","duration_minutes":20} for d in range(1,29) for h in (10,11,12,13,14,15,16,17)]))')
measure "PUT with 224 moves in 2199" PUT "/api/v1/rooms/$room/schedule" \
  "{\"rrule\":\"FREQ=HOURLY;BYHOUR=8,9,10,11,12,13,14,15,16,17,18,19,20,21\",\"start\":\"2000-01-01T08:00\",\"duration_minutes\":30,\"moves\":$moves}"
measure "GET schedule (next meeting, 224 moves)" GET "/api/v1/rooms/$room/schedule"
measure "GET occurrences, 5 years from now" GET "/api/v1/rooms/$room/occurrences?to=2031-12-01T00:00:00Z"

# A rule stored before the checks existed, written straight into the database.
sqlite3 "$db" "UPDATE schedules SET rrule = 'FREQ=SECONDLY;BYMONTH=12', moves = '[]' WHERE room_id = '$room'"
invite=$(curl -s -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  --data '{"role":"participant"}' "$base/api/v1/rooms/$room/invites" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
slug=$(curl -s -H "Authorization: Bearer $key" "$base/api/v1/rooms/$room" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["slug"])')
measure "lobby of a room with that rule stored" GET "/api/v1/lobby/$slug?t=$invite"
measure "GET occurrences of the stored rule, one December day" GET \
  "/api/v1/rooms/$room/occurrences?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"
echo "server CPU seconds (user+system): $(awk '{print ($14+$15)/100}' /proc/$pid/stat)"
