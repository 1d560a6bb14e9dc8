#!/usr/bin/env bash
# The "class" case (issue 15): one room of 25, everyone publishing a camera, everyone showing
# the room's first participant (the teacher) on the stage and 16 others as thumbnails, the rest
# hidden. Run four ways, each against a fresh release server in a private network namespace:
#   full       no simulcast, no layout: everyone is sent every camera whole (before issue 15);
#   layout     no simulcast, the grid's layout: hidden cameras are paused, the rest sent whole;
#   simulcast  three layers and the layout, dynacast off: thumbnails get the lowest layer;
#   dynacast   the same with dynacast: layers nobody receives are not encoded.
# Prints the load generator's report for each (payload down per participant and up per
# publisher, server CPU, loss, latency). Bounded: each run has the load generator's deadline.
#   loadtest/class.sh [results dir]     (default /tmp/class; about 4 minutes)
#   CLASS_DURATION=30 seconds measured;  CLASS_WAYS="full dynacast"  a subset.
# Build first: cargo build --release -p signaling -p loadtest.
set -euo pipefail
cd "$(dirname "$0")/.."
. loadtest/server.sh
out="${1:-/tmp/class}"
require_release_bins
in_namespace COHORT_CLASS_INSIDE "$@"
out=$(results_dir "$out")
duration="${CLASS_DURATION:-30}"
ways="${CLASS_WAYS:-full layout simulcast dynacast}"
trap stop_server EXIT
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); 25 in one room, $duration s" | tee "$out/run.txt"
for way in $ways; do
  case "$way" in
    full) server_args=(--dynacast false); load_args=() ;;
    layout) server_args=(--dynacast false); load_args=(--thumbnails 16) ;;
    simulcast) server_args=(--dynacast false); load_args=(--simulcast --thumbnails 16) ;;
    dynacast) server_args=(--dynacast true); load_args=(--simulcast --thumbnails 16) ;;
    *) echo "unknown way $way" >&2; exit 1 ;;
  esac
  data=$(mktemp -d "/tmp/cohort-class-$way.XXXXXX")
  taskset -c 0 "$bin/cohort" --http 127.0.0.1:18700 --udp-port 40100 --engines 1 --log-level error \
    --db "sqlite://$data/class.db" --open-rooms --no-demo --join-rate 0 --api-rate 0 \
    --max-participants 100 "${server_args[@]}" >"$data/cohort.log" 2>&1 &
  server=$!
  wait_for_port 18700 "$data/cohort.log"
  echo "== $way" | tee -a "$out/run.txt"
  taskset -c 1 "$bin/cohort-loadtest" --target cohort --url ws://127.0.0.1:18700/api/v1/rtc \
    --rooms 1 --participants 25 --publishers 25 --ramp 10 --duration "$duration" \
    --video-kbps 1200 --fps 15 --room-prefix "class-$way" "${load_args[@]}" \
    --server-pid "$server" --json "$out/$way.json" --quiet 2>&1 | tee -a "$out/run.txt" || true
  stop_server
  rm -rf "$data"
done
echo "results in $out"
