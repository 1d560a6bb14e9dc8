#!/usr/bin/env bash
# The shared-notes benchmark (issue 13), on SQLite and on PostgreSQL:
# - 30 yrs clients edit one document at 2 updates a second each for a minute (cohort-loadtest
#   notes): the latency from an update's send to its arrival at the others, the server's CPU,
#   its memory per open document, and the log as written against what is kept after compaction;
# - the load time of a document with 10 000 updates in its log (cohort-loadtest notes-seed and
#   notes-load), and again once unloading has compacted it into a snapshot.
# Everything runs on 127.0.0.1 inside a private network namespace; each server is stopped by its
# PID. Bounded: the editing lasts SECONDS (default 60), every step has a deadline.
#   loadtest/notes-bench.sh [path/to/cohort] [path/to/cohort-loadtest]   (default: release builds)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-/var/tmp/cohort-target}"
bin="${1:-$target/release/cohort}"
lt="${2:-$target/release/cohort-loadtest}"
seconds="${SECONDS_EDITING:-60}"
for b in "$bin" "$lt"; do
  [ -x "$b" ] || { echo "no binary at $b (cargo build --release)" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing (scripts/setup.sh installs it)" >&2; exit 1; }
if [ "${NOTES_BENCH_INSIDE:-}" != 1 ]; then
  exec scripts/netns.sh env NOTES_BENCH_INSIDE=1 SECONDS_EDITING="$seconds" scripts/with-postgres.sh "$0" "$bin" "$lt"
fi

dir=$(mktemp -d)
key=ck_bench_admin_key_0123456789abcdef
port=18192
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
api() { # method path [json]
  curl -fs -X "$1" "http://127.0.0.1:$port/api/v1$2" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' ${3:+-d "$3"}
}

for backend in sqlite postgres; do
  if [ "$backend" = sqlite ]; then
    db="sqlite://$dir/notes.db"
    sql() { sqlite3 "$dir/notes.db" "$1"; }
    len=length
  else
    psql -q "$COHORT_TEST_POSTGRES" -c "CREATE DATABASE notesbench" >/dev/null
    db="${COHORT_TEST_POSTGRES%/*}/notesbench"
    sql() { psql -qtA "$db" -c "$1"; }
    len=octet_length
  fi
  "$bin" --http 127.0.0.1:$port --db "$db" --data-dir "$dir/files-$backend" --admin-key "$key" --no-demo \
    --api-rate 0 --join-rate 0 --notes-update-rate 100 --notes-history-seconds 3600 \
    --udp-port 47110 --log-level warn >"$dir/server-$backend.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo "== $backend"
  "$lt" notes --addr 127.0.0.1:$port --key "$key" --clients 30 --rate 2 --seconds "$seconds" \
    --docs 20 --server-pid "$pid"
  # The edited document (the only one named "room" so far): its log compacts every 500 updates.
  sql "SELECT 'the edited document is stored as: ' || count(*) || ' updates in its log, ' || coalesce(sum($len(body)), 0) || ' bytes' FROM doc_updates WHERE doc = 'room'"
  sql "SELECT 'and its snapshot: ' || coalesce(sum($len(state)), 0) || ' bytes' FROM doc_snapshots WHERE doc = 'room'"
  # The worst case: all 30 send at the same instant, every half second (a separate room).
  "$lt" notes --addr 127.0.0.1:$port --key "$key" --clients 30 --rate 2 --seconds 10 --docs 0 \
    --in-step --server-pid "$pid" | grep -E "^(notes|update|server CPU)"

  # A document with 10 000 updates in its log, loaded from the store, then again after it was
  # unloaded (10 s after the last client left) and compacted.
  room=$(api POST /rooms '{"name": "Load bench", "time_zone": "UTC"}' | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  token=$(api POST "/rooms/$room/invites" '{"role": "host"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  if [ "$backend" = sqlite ]; then
    "$lt" notes-seed --room "$room" --doc room --updates 10000 | sqlite3 "$dir/notes.db"
  else
    "$lt" notes-seed --room "$room" --doc room --updates 10000 --postgres | psql -q "$db" >/dev/null
  fi
  sql "SELECT 'seeded: ' || count(*) || ' updates, ' || sum($len(body)) || ' bytes' FROM doc_updates WHERE room_id = '$room'"
  "$lt" notes-load --addr 127.0.0.1:$port --room "$room" --doc room --token "$token" --times 2 --pause 12
  sql "SELECT 'after compaction: ' || count(*) || ' updates left, snapshot ' || (SELECT $len(state) FROM doc_snapshots WHERE room_id = '$room' AND doc = 'room') || ' bytes' FROM doc_updates WHERE room_id = '$room'"
  echo "server RSS at the end: $(awk '/VmRSS/ { print $2 " kB" }' /proc/$pid/status)"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
