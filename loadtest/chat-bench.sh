#!/usr/bin/env bash
# The chat and board benchmark (issue 12): fan-out latency from one poster to 50 room-channel
# listeners, history pages of 100 and searches on a room of 100 000 messages, and the
# throughput of 20 MB uploads and their downloads, on SQLite and on PostgreSQL. Everything runs on 127.0.0.1 inside a private network namespace; each server is
# stopped by its PID. Bounded: 200 messages, 200 history pages, 50 searches of each query.
#   loadtest/chat-bench.sh [path/to/cohort] [path/to/cohort-loadtest]   (default: release builds)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-/var/tmp/cohort-target}"
bin="${1:-$target/release/cohort}"
lt="${2:-$target/release/cohort-loadtest}"
for b in "$bin" "$lt"; do
  [ -x "$b" ] || { echo "no binary at $b (cargo build --release)" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing (scripts/setup.sh installs it)" >&2; exit 1; }
if [ "${CHAT_BENCH_INSIDE:-}" != 1 ]; then
  exec scripts/netns.sh env CHAT_BENCH_INSIDE=1 scripts/with-postgres.sh "$0" "$bin" "$lt"
fi

dir=$(mktemp -d)
key=ck_bench_admin_key_0123456789abcdef
port=18191
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

# 100 000 messages a minute apart, by 30 people, about seven subjects (one in seven each).
seed_sql() { # room id, row source ("sqlite" or "postgres")
  local numbers
  if [ "$2" = sqlite ]; then
    numbers="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
    from="FROM n"
  else
    numbers=""
    from="FROM generate_series(1, 100000) AS n(i)"
  fi
  cat <<SQL
$numbers
INSERT INTO chat_messages (id, room_id, identity, participant_id, name, text, occurrence, sent_at)
SELECT 'seed' || i, '$1', 'guest:benchseed' || (i % 30), '', 'Student ' || (i % 30),
  'message ' || i || ' about ' || (CASE i % 7 WHEN 0 THEN 'photosynthesis and light'
    WHEN 1 THEN 'algebra equations' WHEN 2 THEN 'the reading for Tuesday'
    WHEN 3 THEN 'homework deadlines' WHEN 4 THEN 'a link to the slides'
    WHEN 5 THEN 'questions for the exam' ELSE 'the weather, mostly' END),
  NULL, $(( $(date +%s) * 1000 - 100000 * 60000 )) + CAST(i AS BIGINT) * 60000
$from;
SQL
}

for backend in sqlite postgres; do
  if [ "$backend" = sqlite ]; then
    db="sqlite://$dir/chat.db"
  else
    psql -q "$COHORT_TEST_POSTGRES" -c "CREATE DATABASE chatbench" >/dev/null
    db="${COHORT_TEST_POSTGRES%/*}/chatbench"
  fi
  "$bin" --http 127.0.0.1:$port --db "$db" --data-dir "$dir/files-$backend" --admin-key "$key" --no-demo --chat-rate 0 \
    --api-rate 0 --join-rate 0 --udp-port 47100 --log-level warn >"$dir/server-$backend.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  room=$(curl -fs -X POST "http://127.0.0.1:$port/api/v1/rooms" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name": "History bench", "time_zone": "UTC"}' |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  start=$(date +%s.%N)
  if [ "$backend" = sqlite ]; then
    seed_sql "$room" sqlite | sqlite3 "$dir/chat.db"
  else
    seed_sql "$room" postgres | psql -q "$db" >/dev/null
  fi
  echo "== $backend: seeded 100000 messages in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
  "$lt" chat --addr 127.0.0.1:$port --key "$key" --listeners 50 --messages 200 --rate 20 \
    --history-room "$room" --requests 200
  # Five uploads of 20 MB (a PDF's signature, then random bytes), and their downloads.
  { printf '%%PDF-1.7\n'; head -c 20000000 /dev/urandom; } >"$dir/big.pdf"
  for i in 1 2 3 4 5; do
    curl -s -o "$dir/up.json" -w '%{http_code} %{time_total} %{size_upload}\n' --max-time 60 \
      -X POST "http://127.0.0.1:$port/api/v1/rooms/$room/board/files?name=big$i.pdf&author=Bench" \
      -H "Authorization: Bearer $key" --data-binary @"$dir/big.pdf"
  done | awk '$1 != 201 { bad++ } { t += $2; n += $3 } END {
    if (bad) { print "uploads refused: " bad; exit 1 }
    printf "upload 20 MB x5: %.0f MB/s (%.3f s each)\n", n / t / 1e6, t / NR }'
  item=$(sed -n 's/.*"download":"\([^"]*\)".*/\1/p' "$dir/up.json")
  for i in 1 2 3 4 5; do
    curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' --max-time 60 \
      "http://127.0.0.1:$port$item" -H "Authorization: Bearer $key"
  done | awk '$1 != 200 { bad++ } { t += $2; n += $3 } END {
    if (bad) { print "downloads failed: " bad; exit 1 }
    printf "download 20 MB x5: %.0f MB/s (%.3f s each)\n", n / t / 1e6, t / NR }'

  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
