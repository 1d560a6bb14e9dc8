#!/usr/bin/env bash
# The benchmark matrix, each case against Cohort and against Janus (Debian's 1.1.2, VideoRoom)
# in the same run, on the same machine, in the same private network namespace:
#   1. one room of 4, 8, 12 and 16 participants, all publishing audio and 500 kbit/s video;
#   2. 20 rooms of 4 participants;
#   3. one publisher with 50, 100 and 200 listeners.
# The server runs on core 0 and the load generator on core 1 (taskset); the load generator
# reports its own CPU use and marks a case saturated when it, not the server, was the limit.
#
#   loadtest/bench.sh [results dir]        (default bench-results/; about 15 minutes)
#   BENCH_DURATION=20  seconds measured per case;  BENCH_CASES="room-4 room-16"  a subset;
#   BENCH_TARGETS="cohort janus"  which servers.
# Then: cohort-loadtest report <results dir>  prints the table and writes the SVG plots.
# Build first: cargo build --release -p signaling -p loadtest. Janus comes from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. loadtest/server.sh
out="${1:-bench-results}"
require_release_bins
command -v janus >/dev/null || { echo "janus is missing: scripts/setup.sh installs it" >&2; exit 1; }

# Everything below runs in a namespace of its own: loopback, plus a veth pair whose two ends
# both live in it (Janus's ICE does not gather on loopback). Nothing can leave it.
in_namespace COHORT_BENCH_INSIDE "$@"

out=$(results_dir "$out")
duration="${BENCH_DURATION:-20}"
targets="${BENCH_TARGETS:-cohort janus}"
# name rooms participants publishers-per-room
matrix="room-4 1 4 4
room-8 1 8 8
room-12 1 12 12
room-16 1 16 16
rooms-20x4 20 80 4
listeners-50 1 51 1
listeners-100 1 101 1
listeners-200 1 201 1"

trap stop_server EXIT

start_cohort() {
  local data="$1"
  taskset -c 0 "$bin/cohort" --http 127.0.0.1:18600 --udp-port 40000 --engines 1 --log-level error \
    --db "sqlite://$data/bench.db" --open-rooms --no-demo --join-rate 0 --api-rate 0 \
    --max-participants 300 --max-rooms 100 >"$data/cohort.log" 2>&1 &
  server=$!
  wait_for_port 18600 "$data/cohort.log"
}

start_janus() {
  local data="$1"
  server=$(JANUS_CPUS=0 "$root/loadtest/janus/start.sh" "$data/janus" 18088 18188 20000-29999)
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); $duration s per case" | tee "$out/run.txt"
while read -r name rooms participants publishers; do
  if [ -n "${BENCH_CASES:-}" ] && ! [[ " $BENCH_CASES " == *" $name "* ]]; then continue; fi
  for target in $targets; do
    data=$(mktemp -d "/tmp/cohort-bench-$name-$target.XXXXXX")
    if [ "$target" = cohort ]; then
      start_cohort "$data"; url=ws://127.0.0.1:18600/api/v1/rtc
    else
      start_janus "$data"; url=ws://127.0.0.1:18188/
    fi
    echo "== $name against $target (server pid $server)" | tee -a "$out/run.txt"
    taskset -c 1 "$bin/cohort-loadtest" --target "$target" --url "$url" \
      --rooms "$rooms" --participants "$participants" --publishers "$publishers" \
      --ramp 20 --duration "$duration" --video-kbps 500 --room-prefix "$name" \
      --server-pid "$server" --json "$out/$name-$target.json" --quiet 2>&1 | tee -a "$out/run.txt" || true
    if [ "$target" = cohort ]; then
      # The engine's own I/O counts (batch sizes: datagrams per system call), for the write-up.
      curl -fsS http://127.0.0.1:18600/metrics | grep '^cohort_engine_' >"$out/$name-cohort.engine.txt" || true
    fi
    stop_server
    rm -rf "$data"
  done
done <<<"$matrix"
echo "results in $out; table and plots: $bin/cohort-loadtest report $out"
