#!/usr/bin/env bash
# Runs a command with a private PostgreSQL server (Debian's `postgresql` package) on loopback,
# and COHORT_TEST_POSTGRES set to its URL; stops the server afterwards, by its PID.
# The cluster lives in a fresh temporary directory, so every run starts empty.
#   scripts/with-postgres.sh cargo test
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/postgres" ] || { echo "PostgreSQL is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
port="${COHORT_PG_PORT:-54329}"
dir=$(mktemp -d /tmp/cohort-pg.XXXXXX)

# initdb refuses to run as root; the package's postgres user runs the server then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi

as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
pid=$(head -1 "$dir/data/postmaster.pid")
stop() {
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -rf "$dir"
}
trap stop EXIT

export COHORT_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
echo "PostgreSQL $(basename "$(dirname "$bin")") for tests at $COHORT_TEST_POSTGRES (pid $pid)"
set +e
"$@"
status=$?
set -e
exit "$status"
