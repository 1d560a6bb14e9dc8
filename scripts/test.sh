#!/usr/bin/env bash
# Runs every check and test of Cohort, as CI does:
#   formatting, lints, the sans-IO rule for sfu-core, unit, property and integration tests, the
#   load generator's smoke run against Janus (scripts/janus-smoke.sh), and the real-browser
#   end-to-end tests (scripts/e2e.sh).
# Tests run inside a private network namespace with only loopback up (unshare -n), so no packet
# can leave the machine. Exits non-zero when anything fails or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cohort-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
log_dir="$CARGO_TARGET_DIR/test-logs"
mkdir -p "$log_dir"

step() { printf '\n== %s\n' "$*"; }
started=$(date +%s)

step "installing what the tests need"
scripts/setup.sh
export COHORT_PYTHON="${COHORT_PY_VENV:-/var/tmp/cohort-py}/bin/python"

step "format (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "sfu-core stays sans-IO"
scripts/check-sans-io.sh

step "vendored browser libraries are their packages' files (web/vendor, from its lockfile)"
scripts/vendor.sh --check

step "building tests"
cargo test --workspace --locked --no-run

# Runs a command in a network namespace of its own with only loopback, when this user may.
# The tests' servers listen on fixed ports in 40000-46999 (UDP, and TCP for ICE-TCP); the
# namespace's ephemeral ports start above them, so that no client connection of another test
# holds a port a server is about to listen on (that once failed a bind: EADDRINUSE).
isolated() {
  if unshare -n true 2>/dev/null; then
    unshare -n sh -c 'ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range="47000 60999" && exec "$@"' sh "$@"
  elif [ "${CI:-}" = "true" ]; then
    echo "CI needs unshare -n (root) to keep test traffic on loopback" >&2
    return 1
  else
    echo "note: cannot unshare the network here; tests still bind 127.0.0.1 only" >&2
    "$@"
  fi
}

step "unit, property and integration tests (loopback-only namespace, SQLite and PostgreSQL)"
# Property tests draw their cases from this seed; a failure is replayed by running them again
# with the same PROPTEST_RNG_SEED (proptest also prints the minimal failing input).
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
echo "property tests: PROPTEST_RNG_SEED=$PROPTEST_RNG_SEED"
log="$log_dir/cargo-test.log"
set +e
isolated scripts/with-postgres.sh cargo test --workspace --locked --offline 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

passed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')

step "the load generator against Janus (its own namespace)"
# The test build made it (the loadtest package's integration tests run it), with the features
# the whole workspace unifies; a `cargo build -p loadtest` would compile much of the dependency
# graph again with fewer features (minutes on a fresh machine).
loadgen="$CARGO_TARGET_DIR/debug/cohort-loadtest"
if [ ! -x "$loadgen" ]; then
  echo "the test build did not make $loadgen" >&2
  exit 1
fi
if scripts/janus-smoke.sh "$loadgen"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

step "browser end-to-end tests (Chromium, loopback-only namespace)"
e2e_log="$log_dir/e2e.log"
set +e
scripts/e2e.sh "$CARGO_TARGET_DIR/debug/cohort" 2>&1 | tee "$e2e_log"
e2e_status=${PIPESTATUS[0]}
set -e
e2e_passed=$(sed -nE 's/^e2e: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$e2e_log" | tail -1)
e2e_failed=$(sed -nE 's/^e2e: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$e2e_log" | tail -1)
passed=$((passed + ${e2e_passed:-0}))
failed=$((failed + ${e2e_failed:-0}))
if [ "$e2e_status" -ne 0 ] && [ "${e2e_failed:-0}" -eq 0 ]; then
  failed=$((failed + 1))
fi
elapsed=$(( $(date +%s) - started ))
printf '\nCohort tests took %ss\n' "$elapsed"
printf '%s passed, %s failed\n' "$passed" "$failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
  echo "tests failed" >&2
  exit 1
fi
if [ "$passed" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
