#!/usr/bin/env bash
# The media engine's own cost per forwarded packet (issue 14), in memory: `cohort-loadtest
# engine` runs the whole media server (sfu::Sfu, one engine thread and its room) on a network in
# memory, with webrtc-rs's sans-IO clients on the calling thread, so no packet reaches the
# kernel's network (and none is sent anywhere). For each case:
# - CPU: the engine thread's CPU time per forwarded packet and forwarded packets per
#   core-second, over ROUNDS measured rounds (a native run);
# - instructions: callgrind's count of the engine thread's instructions per forwarded packet,
#   over CG_ROUNDS measured rounds only (the load generator zeroes callgrind's counts as they
#   start and dumps them as they end), a figure that holds steady on a noisy machine.
# Bounded: every run has a deadline and stops by itself.
#   loadtest/engine-bench.sh [out-dir] [path/to/cohort-loadtest]   (default: the release build)
#   CASES="room-16 listeners-50" picks cases; NO_CALLGRIND=1 skips the instruction counts.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-/var/tmp/cohort-target}"
out="${1:-/tmp/engine-bench}"
lt="${2:-$target/release/cohort-loadtest}"
[ -x "$lt" ] || { echo "no binary at $lt (cargo build --release -p loadtest)" >&2; exit 1; }
rounds="${ROUNDS:-3000}"
cg_rounds="${CG_ROUNDS:-300}"
cases="${CASES:-room-8 room-16 listeners-50 listeners-200}"
mkdir -p "$out/callgrind"

members() {
  case "$1" in
    room-*) echo "--publishers ${1#room-} --listeners 0" ;;
    listeners-*) echo "--publishers 1 --listeners ${1#listeners-}" ;;
    *) echo "unknown case $1 (room-N or listeners-N)" >&2; return 1 ;;
  esac
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

failed=0
summary="$out/summary.md"
{
  echo "| case | forwarded | engine ns / fwd pkt | fwd pkt / core-s | clients ms CPU | datagrams per receive call | engine instructions / fwd pkt |"
  echo "|---|---|---|---|---|---|---|"
} > "$summary"

for c in $cases; do
  m=$(members "$c")
  echo "== $c: $rounds rounds"
  # shellcheck disable=SC2086 # $m is two options and their values
  timeout 900 "$lt" engine $m --rounds "$rounds" --warmup 200 --json "$out/$c.json" | tee "$out/$c.txt"
  ir="-"
  if [ -z "${NO_CALLGRIND:-}" ]; then
    echo "== $c under callgrind: $cg_rounds rounds"
    rm -f "$out/callgrind/$c".*
    # shellcheck disable=SC2086
    if COHORT_BENCH_CALLGRIND=1 timeout 1800 valgrind --tool=callgrind --separate-threads=yes \
      --callgrind-out-file="$out/callgrind/$c.%p" "$lt" engine $m --rounds "$cg_rounds" \
      --warmup 20 --json "$out/$c.callgrind.json" > "$out/$c.callgrind.txt" 2> "$out/$c.valgrind.log"; then
      # The first dump (the measured rounds), the file of the thread that ran the engine.
      engine_file=$(grep -l 'sfu::engine::conns::Conns' "$out/callgrind/$c".*.1-* | head -1)
      [ -n "$engine_file" ] || { echo "no engine thread in the callgrind dump of $c" >&2; exit 1; }
      instructions=$(sed -nE 's/^(summary|totals): ([0-9]+).*/\2/p' "$engine_file" | head -1)
      fwd=$(field "$out/$c.callgrind.json" forwarded)
      ir=$(( instructions / (fwd > 0 ? fwd : 1) ))
      echo "$c: $instructions engine instructions over $fwd forwarded packets: $ir per packet"
    else
      ir="failed"
      failed=1
      echo "$c under callgrind failed: $(grep -v '^==' "$out/$c.valgrind.log" | tail -1 | cut -c1-300)" >&2
    fi
  fi
  j="$out/$c.json"
  python3 - "$j" "$c" "$ir" >> "$summary" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
per_call = r["datagrams_in"] / max(r["receive_calls"], 1)
print(f'| {sys.argv[2]} | {r["forwarded"]} of {r["expected"]} | {r["ns_per_forwarded"]:.0f} | '
      f'{r["forwarded_per_core_second"]:.0f} | {r["clients_cpu_ns"] / 1e6:.0f} | {per_call:.1f} | {sys.argv[3]} |')
EOF
done
echo
cat "$summary"
exit "$failed"
