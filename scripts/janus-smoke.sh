#!/usr/bin/env bash
# The load generator's Janus adapter, checked end to end: Debian's Janus (VideoRoom, WebSocket
# transport) started by loadtest/janus/start.sh in a namespace of its own (loopback plus a veth
# pair that exists only inside it), 3 synthetic participants for 4 s. Passes when every
# participant received every other's audio and video with under 1% loss. Prints
# "janus-smoke: passed" or "janus-smoke: FAILED".
#   scripts/janus-smoke.sh [path to cohort-loadtest]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-/var/tmp/cohort-target}/debug/cohort-loadtest}"
[ -x "$bin" ] || { echo "no load generator at $bin (cargo build -p loadtest)" >&2; exit 1; }
if [ "${COHORT_JANUS_INSIDE:-}" != "1" ]; then
  exec scripts/netns.sh env COHORT_JANUS_INSIDE=1 "$0" "$bin"
fi
work=$(mktemp -d /tmp/cohort-janus-smoke.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
pid=$(loadtest/janus/start.sh "$work/janus" 18089 18189 30000-30999)
if "$bin" --target janus --url ws://127.0.0.1:18189/ -n 3 -r 1 -d 4 --room-prefix smoke \
    --server-pid "$pid" --json "$work/report.json" --quiet &&
  python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["joined"] == 3 and r["tracks_expected"] == 12 and r["tracks_received"] == 12 and r["loss"] < 0.01
print(f"janus: {r['tracks_received']}/{r['tracks_expected']} tracks, loss {r['loss']:.4f}")
sys.exit(0 if ok else 1)
PY
then
  echo "janus-smoke: passed"
else
  echo "janus-smoke: FAILED"
  tail -20 "$work/janus/janus.log" 2>/dev/null || true
  exit 1
fi
