#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each), with the nightly toolchain and
# cargo-fuzz (installed from crates.io if missing). Stops by itself; exits non-zero on a crash,
# and libFuzzer prints the input that reproduces it (kept under signaling/fuzz/artifacts/).
#   scripts/fuzz.sh [seconds per target] [target ...]
set -euo pipefail
cd "$(dirname "$0")/../signaling/fuzz"
secs="${1:-60}"
shift || true
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(notes_frames client_messages roster_csv)
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/cohort-fuzz-target}"
# An allocation that cannot be satisfied fails as it would in production (yrs reserves what a
# frame declares with try_reserve, and gets an error); any single allocation over 256 MB is still
# reported, as a bomb.
export ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
for t in "${targets[@]}"; do
  echo "-- fuzzing $t for ${secs}s"
  mkdir -p "corpus/$t"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1
done
