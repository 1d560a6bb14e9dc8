#!/usr/bin/env bash
# Real-browser end-to-end tests: starts the cohort binary and runs every e2e/*.test.mjs against
# it with Debian's Chromium and Firefox ESR, all inside a private network namespace of their own.
# The namespace has loopback, plus a veth pair whose two ends both live inside it: Firefox only
# gathers ICE candidates when some non-loopback interface with a default route exists. Nothing
# can leave the namespace; the server binds 127.0.0.1 only.
# Usage: scripts/e2e.sh [path to cohort binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-/var/tmp/cohort-target}/debug/cohort}"
[ -x "$bin" ] || { echo "no cohort binary at $bin (build it first)" >&2; exit 1; }

if [ "${COHORT_E2E_INSIDE:-}" != "1" ]; then
  exec scripts/netns.sh env COHORT_E2E_INSIDE=1 "$0" "$bin"
fi
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

port=18080
log=$(mktemp /tmp/cohort-e2e-server.XXXXXX.log)
data=$(mktemp -d /tmp/cohort-e2e-data.XXXXXX)
# The tests make their own rooms and invites with this key; ad hoc rooms stay open to them.
export COHORT_ADMIN_KEY="ck_e2e_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export COHORT_DATA_DIR="$data"
# Media on the namespace's veth address: the engine is an ICE-lite agent that never sends checks,
# and Firefox pairs its host candidates (it gathers no loopback) only with remote candidates
# that are not loopback either.
"$bin" --http "127.0.0.1:$port" --udp-port 51000 --media-ip 10.200.0.1 --log-level "${COHORT_E2E_LOG:-warn}" --test-hooks \
  --db "sqlite://$data/main.db" --open-rooms --no-demo --join-rate 0 >"$log" 2>&1 &
server=$!
# A second server whose rooms hold one person, for the room-full case.
small_port=18081
"$bin" --http "127.0.0.1:$small_port" --udp-port 52000 --log-level warn --max-participants 1 \
  --db "sqlite://$data/small.db" --open-rooms --no-demo >>"$log" 2>&1 &
small=$!
trap 'kill "$server" "$small" 2>/dev/null || true; wait "$server" "$small" 2>/dev/null || true; rm -rf "$data"' EXIT
for p in "$port" "$small_port"; do
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
    sleep 0.1
  done
done
for pid in "$server" "$small"; do
  kill -0 "$pid" 2>/dev/null || { echo "a cohort server did not start:" >&2; cat "$log" >&2; exit 1; }
done
export COHORT_SMALL_SERVER="http://127.0.0.1:$small_port"
export COHORT_BIN="$bin"

passed=0
failed=0
# COHORT_E2E_ONLY=name runs e2e/name.test.mjs alone (while working on it); COHORT_E2E_LOG sets the
# main server's log filter (warn by default); COHORT_E2E_KEEP_LOG=1 keeps its log when all pass.
for t in e2e/${COHORT_E2E_ONLY:-*}.test.mjs; do
  echo "-- $t"
  if (cd e2e && timeout 120 node "$(basename "$t")" "http://127.0.0.1:$port"); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $t (server log: $log)"
  fi
done
echo "e2e: $passed passed, $failed failed"
# The server log is kept only when something failed (its path is printed above).
[ "$failed" -eq 0 ] && [ -z "${COHORT_E2E_KEEP_LOG:-}" ] && rm -f "$log"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
