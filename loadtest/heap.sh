#!/usr/bin/env bash
# Where the server's memory goes in one bench case: the server runs under heaptrack (Debian's
# heaptrack, which scripts/setup.sh does not install: apt-get install heaptrack), in the same
# private namespace as loadtest/bench.sh, with one room of N publishing participants (audio and
# 500 kbit/s video) for a bounded time. It prints the load generator's report (RSS per
# participant is heaptrack's included) and the heap at its peak, by the first frame of ours,
# rtc's or a library's that allocated it.
# heaptrack slows the server down several times, so its turns (and the bursts its queues hold)
# are larger than natively: take the shares as where memory can pile up, and the native RSS
# from loadtest/bench.sh.
#   loadtest/heap.sh [out-dir]     N=16 participants (default), DURATION=20 seconds measured
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-/var/tmp/cohort-target}/release"
out="${1:-/tmp/cohort-heap}"
for b in cohort cohort-loadtest; do
  [ -x "$bin/$b" ] || { echo "no $bin/$b: cargo build --release -p signaling -p loadtest" >&2; exit 1; }
done
command -v heaptrack >/dev/null || { echo "heaptrack is missing: apt-get install heaptrack" >&2; exit 1; }
if [ "${COHORT_HEAP_INSIDE:-}" != "1" ]; then
  exec scripts/netns.sh env COHORT_HEAP_INSIDE=1 "$0" "$@"
fi
n="${N:-16}"
mkdir -p "$out"
rm -f "$out"/heap.*
data=$(mktemp -d /tmp/cohort-heap.XXXXXX)
taskset -c 0 heaptrack -o "$out/heap" "$bin/cohort" --http 127.0.0.1:18650 --udp-port 40050 \
  --engines 1 --log-level error --db "sqlite://$data/heap.db" --open-rooms --no-demo \
  --join-rate 0 --api-rate 0 --max-participants 300 --max-rooms 10 >"$out/cohort.log" 2>&1 &
tracker=$!
server=""
for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/18650) 2>/dev/null; then
    # heaptrack runs the server as its child: that child's pid, to measure it and stop it.
    server=$(pgrep -P "$tracker" -f "$bin/cohort" | head -1 || true)
    [ -n "$server" ] || server=$(pgrep -f "^$bin/cohort --http 127.0.0.1:18650" | head -1)
    break
  fi
  sleep 0.2
done
[ -n "$server" ] || { echo "the server did not start:" >&2; cat "$out/cohort.log" >&2; kill "$tracker"; exit 1; }
taskset -c 1 timeout 300 "$bin/cohort-loadtest" --target cohort --url ws://127.0.0.1:18650/api/v1/rtc \
  --rooms 1 --participants "$n" --publishers "$n" --ramp 20 --duration "${DURATION:-20}" \
  --video-kbps 500 --room-prefix heap --server-pid "$server" --quiet 2>&1 | grep -E "^(packets|server|load generator):" || true
kill "$server"
wait "$tracker" || true
rm -rf "$data"
file=$(ls "$out"/heap.zst "$out"/heap.gz "$out"/heap.*.zst 2>/dev/null | head -1 || true)
[ -n "$file" ] || { echo "heaptrack wrote no profile in $out" >&2; exit 1; }
heaptrack_print -f "$file" --print-peaks 1 --print-allocators 0 --print-temporary 0 \
  --print-leaks 0 --peak-limit 12 --sub-peak-limit 60 2>/dev/null >"$out/peaks.txt"
grep -E "peak heap memory|peak RSS" "$out/peaks.txt"
python3 - "$out/peaks.txt" <<'PY'
import collections, re, sys
lines = open(sys.argv[1]).read().split('\n')
unit = {'': 1, 'K': 1e3, 'M': 1e6, 'G': 1e9}
by = collections.Counter()
i = 0
while i < len(lines):
    m = re.match(r'\s*([\d.]+)([KMG]?)B? consumed over \d+ calls from:', lines[i])
    if not m:
        i += 1
        continue
    size = float(m.group(1)) * unit[m.group(2)]
    frames, i = [], i + 1
    while i < len(lines) and 'consumed over' not in lines[i]:
        t = lines[i].strip()
        if t and not t.startswith(('at ', 'in ')):
            frames.append(t)
        i += 1
    ours = r'(rtc[a-z_]*::|sfu::|sfu_core::|signaling::|tokio::|axum|hyper|sqlx|tungstenite)'
    key = next((re.sub(r'::h[0-9a-f]{16}$', '', f) for f in frames
                if re.search(ours, f) and not f.startswith('alloc::')), 'elsewhere')
    by[key] += size
print(f'heap at its peak, by where it was allocated (the top {min(25, len(by))}):')
for key, size in by.most_common(25):
    print(f'{size / 1e6:8.2f} MB  {key[:150]}')
PY
