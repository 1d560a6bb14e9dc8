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
[ "${#targets[@]}" -gt 0 ] || targets=(notes_frames client_messages roster_csv media_demux)
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/cohort-fuzz-target}"
# An allocation that cannot be satisfied fails as it would in production (yrs reserves what a
# frame declares with try_reserve, and gets an error); any single allocation over 256 MB is still
# reported, as a bomb.
export ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
for t in "${targets[@]}"; do
  echo "-- fuzzing $t for ${secs}s"
  mkdir -p "corpus/$t"
  # yrs reserves room for the blocks each client of an update declares before reading them
  # (try_reserve: a failed reservation is an error, not an abort). Only the first client's count
  # can be checked against the frame's size beforehand (the engine does); a later one's can ask
  # for gigabytes of address space that is never touched and freed at once. For notes_frames the
  # guard is therefore the resident memory (-rss_limit_mb), not the size of one reservation.
  malloc_limit=256
  [ "$t" = notes_frames ] && malloc_limit=1048576
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb="$malloc_limit" -print_final_stats=1
done
