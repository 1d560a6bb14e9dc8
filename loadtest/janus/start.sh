#!/usr/bin/env bash
# Starts Janus (Debian package `janus` 1.1.2) for the Cohort-vs-Janus benchmark.
#
#   start.sh <workdir> <http-port> <ws-port> <rtp-range>
#   e.g. start.sh /tmp/janus-bench 8088 8188 20000-20999
#
# MUST be run inside the benchmark's private network namespace (`unshare -n`) with `lo` up and
# the veth pair configured (veth0 = 10.200.0.1/24, veth1 = 10.200.0.2/24, both up): libnice does
# not gather ICE candidates on loopback, so Janus is pinned to veth0 (ice_enforce_list) and every
# offer fails without it. See loadtest/janus/selftest.sh for a complete, self-contained run.
#
# What it does:
#   * writes a fresh config folder <workdir>/conf from loadtest/janus/templates/*.jcfg.in
#     (derived from /etc/janus): VideoRoom is the only plugin; HTTP and WebSocket are the only
#     transports, both on 127.0.0.1; Admin API off; no event handlers or loggers; ignore_mdns;
#     ice_enforce_list veth0; no STUN/TURN; rtp_port_range; log to <workdir>/janus.log;
#   * starts `janus` in the background (stdin /dev/null, stdout/stderr to <workdir>/janus.out,
#     so `PID=$(start.sh ...)` returns as soon as Janus is ready);
#   * waits (at most 10 s) until GET /janus/info answers on HTTP and the WebSocket port completes
#     a `janus-protocol` handshake;
#   * prints Janus's PID (and only that) on stdout, and writes it to <workdir>/janus.pid.
#     Progress and errors go to stderr. Exit status 0 = ready; non-zero = Janus was stopped
#     (if it had started) and the tail of its log is on stderr.
#
# Stop Janus by that PID:  kill "$PID"  (it exits cleanly on SIGTERM/SIGINT; measured 1.6-2 s;
# follow with kill -9 "$PID" if it is still there after 5 s). Janus is re-parented when this
# script exits, so the caller cannot `wait` for it: poll with `kill -0 "$PID"`.
#
# Environment (optional):
#   JANUS_BIN          janus binary (default: janus from PATH)
#   JANUS_ICE_IFACE    interface(s) for ice_enforce_list (default: veth0)
#   JANUS_DEBUG_LEVEL  0-7 (default: 3 = warnings and errors)
#   JANUS_CPUS         if set, run Janus under `taskset -c $JANUS_CPUS` (e.g. "1" for one core)
#   JANUS_ETC          Debian config folder to read the module folders from (default: /etc/janus)
#   JANUS_EVENT_LOOPS  if set, event_loops = N (N shared media loops instead of a thread per handle)
#   JANUS_EXTRA_ARGS   extra janus command-line options, word-split (e.g. "-l" for libnice debug)
set -euo pipefail

usage() {
  echo "usage: $0 <workdir> <http-port> <ws-port> <rtp-min>-<rtp-max>" >&2
  exit 2
}
log() { echo "janus/start.sh: $*" >&2; }

[[ $# -eq 4 ]] || usage
WORKDIR=$1
HTTP_PORT=$2
WS_PORT=$3
RTP_RANGE=$4
[[ $HTTP_PORT =~ ^[0-9]+$ && $WS_PORT =~ ^[0-9]+$ ]] || usage
[[ $RTP_RANGE =~ ^[0-9]+-[0-9]+$ ]] || usage
(( ${RTP_RANGE%-*} < ${RTP_RANGE#*-} && ${RTP_RANGE#*-} <= 65535 )) || { log "bad RTP range $RTP_RANGE"; exit 2; }
[[ $HTTP_PORT != "$WS_PORT" ]] || { log "HTTP and WebSocket ports must differ"; exit 2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES=$HERE/templates
JANUS_BIN=${JANUS_BIN:-$(command -v janus || true)}
JANUS_ETC=${JANUS_ETC:-/etc/janus}
ICE_IFACE=${JANUS_ICE_IFACE:-veth0}
DEBUG_LEVEL=${JANUS_DEBUG_LEVEL:-3}
EVENT_LOOPS_LINE="	# event_loops = (unset: one loop per handle)"
if [[ -n ${JANUS_EVENT_LOOPS:-} ]]; then
  [[ $JANUS_EVENT_LOOPS =~ ^[0-9]+$ ]] || { log "JANUS_EVENT_LOOPS must be a number"; exit 2; }
  EVENT_LOOPS_LINE="	event_loops = $JANUS_EVENT_LOOPS"
fi

[[ -n $JANUS_BIN && -x $JANUS_BIN ]] || { log "janus not found (apt-get install janus)"; exit 1; }
[[ -r $JANUS_ETC/janus.jcfg ]] || { log "$JANUS_ETC/janus.jcfg not readable"; exit 1; }

# The namespace check: the ICE interface must exist and carry an IPv4 address.
first_iface=${ICE_IFACE%%,*}
if ! ip -4 -o addr show dev "$first_iface" 2>/dev/null | grep -q inet; then
  log "interface '$first_iface' has no IPv4 address: run inside the benchmark namespace"
  log "(unshare -n; ip link add veth0 type veth peer name veth1; addresses; links up)"
  exit 1
fi
LOCAL_IP=$(ip -4 -o addr show dev "$first_iface" | awk '{print $4}' | cut -d/ -f1 | head -n1)
if ! ip -o link show dev lo 2>/dev/null | grep -q 'UP'; then
  log "loopback is down in this namespace (ip link set lo up)"
  exit 1
fi

# Refuse ports that are already taken (a second Janus, or Cohort).
for p in "$HTTP_PORT" "$WS_PORT"; do
  if ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
    log "TCP port $p is already in use"
    exit 1
  fi
done

# Module folders, as Debian's own configuration names them.
folder() {
  local v
  v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$JANUS_ETC/janus.jcfg" | head -n1)
  [[ -n $v ]] || v=/usr/lib/x86_64-linux-gnu/janus/$2
  echo "$v"
}
PLUGINS_FOLDER=$(folder plugins_folder plugins)
TRANSPORTS_FOLDER=$(folder transports_folder transports)
EVENTS_FOLDER=$(folder events_folder events)
LOGGERS_FOLDER=$(folder loggers_folder loggers)

# Janus loads every "*.so" in a folder that is not in the folder's disable list; build the
# lists from what is installed so that only the modules we keep are loaded.
disable_all_but() { # <folder> <kept .so names...>
  local dir=$1 f name out=
  shift
  for f in "$dir"/*.so; do
    [[ -e $f ]] || continue
    name=${f##*/}
    local keep=0 k
    for k in "$@"; do [[ $name == "$k" ]] && keep=1; done
    [[ $keep -eq 1 ]] || out+=${out:+,}$name
  done
  echo "$out"
}
for need in "$PLUGINS_FOLDER/libjanus_videoroom.so" "$TRANSPORTS_FOLDER/libjanus_http.so" \
            "$TRANSPORTS_FOLDER/libjanus_websockets.so"; do
  [[ -e $need ]] || { log "missing $need"; exit 1; }
done
PLUGINS_DISABLE=$(disable_all_but "$PLUGINS_FOLDER" libjanus_videoroom.so)
TRANSPORTS_DISABLE=$(disable_all_but "$TRANSPORTS_FOLDER" libjanus_http.so libjanus_websockets.so)
EVENTS_DISABLE=$(disable_all_but "$EVENTS_FOLDER")
LOGGERS_DISABLE=$(disable_all_but "$LOGGERS_FOLDER")

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
CONF=$WORKDIR/conf
LOG_FILE=$WORKDIR/janus.log
rm -rf "$CONF"
mkdir -p "$CONF"
: >"$LOG_FILE"

render() { # <template> <output>
  sed -e "s|@CONF_DIR@|$CONF|g" \
      -e "s|@PLUGINS_FOLDER@|$PLUGINS_FOLDER|g" \
      -e "s|@TRANSPORTS_FOLDER@|$TRANSPORTS_FOLDER|g" \
      -e "s|@EVENTS_FOLDER@|$EVENTS_FOLDER|g" \
      -e "s|@LOGGERS_FOLDER@|$LOGGERS_FOLDER|g" \
      -e "s|@LOG_FILE@|$LOG_FILE|g" \
      -e "s|@DEBUG_LEVEL@|$DEBUG_LEVEL|g" \
      -e "s|@RTP_RANGE@|$RTP_RANGE|g" \
      -e "s|@LOCAL_IP@|$LOCAL_IP|g" \
      -e "s|@EVENT_LOOPS_LINE@|$EVENT_LOOPS_LINE|g" \
      -e "s|@ICE_ENFORCE@|$ICE_IFACE|g" \
      -e "s|@PLUGINS_DISABLE@|$PLUGINS_DISABLE|g" \
      -e "s|@TRANSPORTS_DISABLE@|$TRANSPORTS_DISABLE|g" \
      -e "s|@EVENTS_DISABLE@|$EVENTS_DISABLE|g" \
      -e "s|@LOGGERS_DISABLE@|$LOGGERS_DISABLE|g" \
      -e "s|@HTTP_PORT@|$HTTP_PORT|g" \
      -e "s|@WS_PORT@|$WS_PORT|g" \
      "$1" >"$2"
}
for t in janus.jcfg janus.transport.http.jcfg janus.transport.websockets.jcfg janus.plugin.videoroom.jcfg; do
  render "$TEMPLATES/$t.in" "$CONF/$t"
done

cmd=("$JANUS_BIN" -C "$CONF/janus.jcfg" -F "$CONF")
if [[ -n ${JANUS_EXTRA_ARGS:-} ]]; then
  read -r -a extra <<<"$JANUS_EXTRA_ARGS"
  cmd+=("${extra[@]}")
fi
if [[ -n ${JANUS_CPUS:-} ]]; then
  cmd=(taskset -c "$JANUS_CPUS" "${cmd[@]}")
fi
log "starting: ${cmd[*]}"
# Not daemonized (-b) so that $! is Janus's own PID (taskset execs, keeping the PID).
"${cmd[@]}" </dev/null >"$WORKDIR/janus.out" 2>&1 &
PID=$!
echo "$PID" >"$WORKDIR/janus.pid"

fail() {
  log "$*"
  if kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null || true
  fi
  log "--- last lines of $LOG_FILE ---"
  tail -n 30 "$LOG_FILE" >&2 || true
  tail -n 10 "$WORKDIR/janus.out" >&2 || true
  exit 1
}

http_ready() {
  curl -s --max-time 1 "http://127.0.0.1:$HTTP_PORT/janus/info" 2>/dev/null | grep -q '"server_info"'
}
ws_ready() { # a WebSocket upgrade with the janus-protocol subprotocol must get "101"
  (
    exec 3<>"/dev/tcp/127.0.0.1/$WS_PORT" || exit 1
    printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: janus-protocol\r\n\r\n' "$WS_PORT" >&3
    IFS= read -r -t 1 line <&3 || exit 1
    [[ $line == *" 101 "* ]]
  ) 2>/dev/null
}

ready=0
deadline=$(( $(date +%s%N) / 1000000 + 10000 )) # 10 s
for _ in $(seq 1 200); do # bounded; the deadline normally ends it first
  kill -0 "$PID" 2>/dev/null || fail "janus (pid $PID) exited during start-up"
  if http_ready && ws_ready; then ready=1; break; fi
  (( $(date +%s%N) / 1000000 < deadline )) || break
  sleep 0.1
done
[[ $ready -eq 1 ]] || fail "janus did not answer on HTTP :$HTTP_PORT and WebSocket :$WS_PORT within 10 s"

log "ready: pid $PID, http://127.0.0.1:$HTTP_PORT/janus, ws://127.0.0.1:$WS_PORT (janus-protocol), log $LOG_FILE"
echo "$PID"
