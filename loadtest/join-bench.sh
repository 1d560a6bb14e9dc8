#!/usr/bin/env bash
# The browser join benchmark (issue 17): a release server and Debian's Chromium in a private
# network namespace; for each room size (residents publishing, plus one newcomer), JOIN_COUNT
# newcomers join in turn, each in a fresh browser context, and each join is timed by the page
# itself (web/static/timeline.js), from the click on Join to the first remote frame shown.
# Prints every join, p50 and p95, each step's median, and the server's own join time.
# Bounded: JOIN_COUNT joins per size, each given at most 20 s.
#   loadtest/join-bench.sh [results dir]   (default /tmp/join; about a minute per size)
#   JOIN_PAGES="2 3 4" room sizes (default "2 4");  JOIN_COUNT=10 joins per size;
#   JOIN_BIN=path  another cohort binary (to compare a build with this one);
#   JOIN_LOG=filter  the server's log filter (error by default), its log kept in the results.
# Build first: cargo build --release -p signaling; (cd e2e && npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
. loadtest/server.sh
out="${1:-/tmp/join}"
cohort="${JOIN_BIN:-$bin/cohort}"
[ -x "$cohort" ] || { echo "no $cohort: cargo build --release -p signaling" >&2; exit 1; }
[ -d e2e/node_modules/playwright-core ] || { echo "no e2e/node_modules: (cd e2e && npm ci)" >&2; exit 1; }
in_namespace COHORT_JOIN_INSIDE "$@"
out=$(results_dir "$out")
data=$(mktemp -d /tmp/cohort-join.XXXXXX)
trap 'stop_server; cp "$data/cohort.log" "$out/cohort.log" 2>/dev/null; rm -rf "$data"' EXIT
"$cohort" --http 127.0.0.1:18750 --udp-port 40200 --log-level "${JOIN_LOG:-error}" \
  --db "sqlite://$data/join.db" --open-rooms --no-demo --join-rate 0 --api-rate 0 >"$data/cohort.log" 2>&1 &
server=$!
wait_for_port 18750 "$data/cohort.log"
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r); $(/usr/bin/chromium --version 2>/dev/null || echo chromium)" | tee "$out/run.txt"
# shellcheck disable=SC2086 # the sizes are words
(cd e2e && node joinbench.mjs http://127.0.0.1:18750 "$out/join.json" ${JOIN_PAGES:-2 4}) 2>&1 | tee -a "$out/run.txt"
echo "results in $out"
