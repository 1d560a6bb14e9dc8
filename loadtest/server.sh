# Sourced by the benchmark scripts that run a server of their own (bench.sh, class.sh,
# join-bench.sh): the release binaries they need, running inside scripts/netns.sh's namespace,
# waiting for the server they started, and stopping it by its PID.
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

# Runs the calling script again inside scripts/netns.sh's namespace, unless the variable named
# $1 says it is there already; the script's own arguments follow.
in_namespace() {
  local mark="$1"
  shift
  if [ "${!mark:-}" != "1" ]; then
    exec scripts/netns.sh env "$mark=1" "$0" "$@"
  fi
}

# Makes the results folder $1 and prints its absolute path.
results_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# Waits up to 10 s for the server just started ($server) to accept on 127.0.0.1:$1; fails,
# printing the log $2, if it does not.
wait_for_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not start:" >&2
  cat "$2" >&2
  return 1
}
