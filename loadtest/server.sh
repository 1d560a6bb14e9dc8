# Sourced by the benchmark scripts that run a server of their own (bench.sh, class.sh): the
# release binaries they need, and stopping the server they started, by its PID.
bin="${CARGO_TARGET_DIR:-/var/tmp/cohort-target}/release"

require_release_bins() {
  for b in cohort cohort-loadtest; do
    [ -x "$bin/$b" ] || { echo "no $bin/$b: cargo build --release -p signaling -p loadtest" >&2; exit 1; }
  done
}

# The PID of the server running now, if any; stop_server stops it (TERM, then KILL after 5 s).
server=""
stop_server() {
  [ -n "$server" ] || return 0
  kill "$server" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$server" 2>/dev/null || true
  server=""
}
