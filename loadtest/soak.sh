#!/usr/bin/env bash
# The soak (not in CI): participants joining and leaving a release cohort server for an hour,
# its resident memory and open file descriptors sampled every 30 s and their growth after the
# warm-up printed (docs/benchmarks.md). Everything runs on 127.0.0.1 inside scripts/netns.sh's
# namespace; the run stops by itself and the server is stopped by its PID.
#   loadtest/soak.sh [seconds] [path/to/cohort] [path/to/cohort-loadtest]   (default 3600 s, release builds)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-/var/tmp/cohort-target}"
seconds="${1:-3600}"
bin="${2:-$target/release/cohort}"
lt="${3:-$target/release/cohort-loadtest}"
for b in "$bin" "$lt"; do
  [ -x "$b" ] || { echo "no binary at $b (cargo build --release)" >&2; exit 1; }
done
if [ "${SOAK_INSIDE:-}" != 1 ]; then
  exec scripts/netns.sh env SOAK_INSIDE=1 "$0" "$seconds" "$bin" "$lt"
fi

dir=$(mktemp -d)
port=18193
"$bin" --http 127.0.0.1:$port --db "sqlite://$dir/soak.db" --data-dir "$dir/files" --no-demo \
  --open-rooms --join-rate 0 --udp-port 47120 --log-level warn >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
"$lt" churn --url "ws://127.0.0.1:$port/api/v1/rtc" --rooms 4 --seats 16 --seconds "$seconds" \
  --stay-min 5 --stay-max 30 --sample-seconds "$(( seconds >= 600 ? 30 : 5 ))" --server-pid "$pid"
