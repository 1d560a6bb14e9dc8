#!/usr/bin/env bash
# Self-test of loadtest/janus/start.sh: in a private network namespace of its own (unshare -n,
# loopback + a veth pair whose two ends both live inside it), starts Janus with start.sh, checks
# the Janus API over HTTP (curl, long-poll) and over WebSocket (python3 stdlib client), and
# stops Janus by its PID. Nothing leaves the namespace.
#
#   loadtest/janus/selftest.sh [--flow] [workdir]
#
#   --flow   also run flow-check.mjs: headless Chromium publishes and subscribes through the
#            VideoRoom over the WebSocket API (real SDP offers/answers, ICE, DTLS, media), and
#            every message is recorded in <workdir>/flow-check.jsonl.
#   workdir  where Janus's config, log and the captures go (default: a new /tmp/janus-selftest.*)
#
# Must run as root (unshare -n). Exit status 0 = every check passed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

FLOW=0
if [[ ${1:-} == --flow ]]; then FLOW=1; shift; fi
WORKDIR=${1:-}

if [[ ${JANUS_SELFTEST_INSIDE:-} != 1 ]]; then
  unshare -n true 2>/dev/null || { echo "selftest.sh needs unshare -n (root)" >&2; exit 1; }
  [[ -n $WORKDIR ]] || WORKDIR=$(mktemp -d /tmp/janus-selftest.XXXXXX)
  # accept_local on veth1: libnice pins its sockets to veth0 (IP_UNICAST_IF), so its packets to
  # 10.200.0.2 really cross the veth pair and arrive on veth1 with a source address that is local
  # to the namespace, which the kernel drops unless accept_local is set.
  exec unshare -n env JANUS_SELFTEST_INSIDE=1 bash -c '
    set -e
    ip link set lo up
    ip link add veth0 type veth peer name veth1
    ip addr add 10.200.0.1/24 dev veth0
    ip addr add 10.200.0.2/24 dev veth1
    ip link set veth0 up
    ip link set veth1 up
    sysctl -qw net.ipv4.conf.veth1.accept_local=1
    exec "$0" "$@"' "$0" $([[ $FLOW == 1 ]] && echo --flow) "$WORKDIR"
fi

HTTP_PORT=8088
WS_PORT=8188
RTP_RANGE=20000-20999
ROOM=1234
BASE=http://127.0.0.1:$HTTP_PORT/janus
fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }

echo "# namespace: $(ip -br -4 addr | tr -s ' ' | tr '\n' ';')"
PID=$("$HERE/start.sh" "$WORKDIR" "$HTTP_PORT" "$WS_PORT" "$RTP_RANGE")
echo "# janus pid $PID, workdir $WORKDIR"

stop_janus() {
  if kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$PID" 2>/dev/null; then
      echo "# janus did not stop within 5 s of SIGTERM; SIGKILL" >&2
      kill -9 "$PID" 2>/dev/null || true
    fi
  fi
}
trap stop_janus EXIT

# ---- HTTP (REST + long-poll), with curl ----------------------------------------------------
post() { curl -s --max-time 5 -H 'Content-Type: application/json' -d "$2" "$BASE$1"; }
poll() { curl -s --max-time 35 "$BASE/$1?maxev=10"; } # returns within 30 s (keepalive) at worst
tx() { echo "tx$RANDOM$RANDOM"; }

info=$(curl -s --max-time 5 "$BASE/info")
if [[ $(jq -r .janus <<<"$info") == server_info ]] &&
   [[ $(jq -c '.plugins|keys' <<<"$info") == '["janus.plugin.videoroom"]' ]] &&
   [[ $(jq -c '.transports|keys' <<<"$info") == '["janus.transport.http","janus.transport.websockets"]' ]]; then
  ok "GET /janus/info: $(jq -r '.version_string' <<<"$info"), plugins videoroom only, transports http+websockets, local-ip $(jq -r '."local-ip"' <<<"$info")"
else
  bad "GET /janus/info: $info"
fi

r=$(post "" "{\"janus\":\"create\",\"transaction\":\"$(tx)\"}")
SID=$(jq -r '.data.id // empty' <<<"$r")
[[ -n $SID ]] && ok "create session -> $SID" || bad "create session: $r"

r=$(post "/$SID" "{\"janus\":\"attach\",\"plugin\":\"janus.plugin.videoroom\",\"transaction\":\"$(tx)\"}")
HID=$(jq -r '.data.id // empty' <<<"$r")
[[ -n $HID ]] && ok "attach janus.plugin.videoroom -> handle $HID" || bad "attach: $r"

body='{"request":"create","room":'$ROOM',"description":"selftest","publishers":100,"bitrate":0,"fir_freq":0,"audiocodec":"opus","videocodec":"vp8","record":false,"notify_joining":false,"audiolevel_ext":false,"videoorient_ext":false,"playoutdelay_ext":false,"transport_wide_cc_ext":true}'
r=$(post "/$SID/$HID" "{\"janus\":\"message\",\"transaction\":\"$(tx)\",\"body\":$body}")
[[ $(jq -r '.janus + "/" + .plugindata.data.videoroom' <<<"$r") == success/created ]] &&
  ok "create room $ROOM (synchronous: janus=success, videoroom=created)" || bad "create room: $r"

r=$(post "/$SID/$HID" "{\"janus\":\"message\",\"transaction\":\"$(tx)\",\"body\":{\"request\":\"join\",\"ptype\":\"publisher\",\"room\":$ROOM,\"display\":\"curl\"}}")
[[ $(jq -r .janus <<<"$r") == ack ]] && ok "join as publisher (no jsep) -> ack" || bad "join: $r"
r=$(poll "$SID")
[[ $(jq -r '.[0].plugindata.data.videoroom' <<<"$r") == joined ]] &&
  ok "long-poll GET /janus/$SID -> joined, id $(jq -r '.[0].plugindata.data.id' <<<"$r"), publishers $(jq -c '.[0].plugindata.data.publishers' <<<"$r")" ||
  bad "long-poll joined: $r"

r=$(post "/$SID/$HID" "{\"janus\":\"message\",\"transaction\":\"$(tx)\",\"body\":{\"request\":\"listparticipants\",\"room\":$ROOM}}")
[[ $(jq -r '.plugindata.data.videoroom' <<<"$r") == participants ]] &&
  ok "listparticipants -> $(jq -c '.plugindata.data.participants' <<<"$r")" || bad "listparticipants: $r"

r=$(post "/$SID" "{\"janus\":\"keepalive\",\"transaction\":\"$(tx)\"}")
[[ $(jq -r .janus <<<"$r") == ack ]] && ok "keepalive -> ack" || bad "keepalive: $r"

# A subscription to a feed that does not exist: the error shape a load client must handle.
r=$(post "/$SID" "{\"janus\":\"attach\",\"plugin\":\"janus.plugin.videoroom\",\"transaction\":\"$(tx)\"}")
HID2=$(jq -r '.data.id // empty' <<<"$r")
post "/$SID/$HID2" "{\"janus\":\"message\",\"transaction\":\"$(tx)\",\"body\":{\"request\":\"join\",\"ptype\":\"subscriber\",\"room\":$ROOM,\"streams\":[{\"feed\":424242}]}}" >/dev/null
r=$(poll "$SID")
code=$(jq -r '.[0].plugindata.data.error_code // empty' <<<"$r")
[[ -n $code ]] && ok "subscribe to a missing feed -> error_code $code: $(jq -r '.[0].plugindata.data.error' <<<"$r")" ||
  bad "subscribe to missing feed: $r"

r=$(post "/$SID/$HID" "{\"janus\":\"message\",\"transaction\":\"$(tx)\",\"body\":{\"request\":\"leave\"}}")
r=$(poll "$SID")
[[ $(jq -r '.[0].plugindata.data.leaving' <<<"$r") == ok ]] && ok "leave -> leaving: ok" || bad "leave: $r"

r=$(post "/$SID/$HID" "{\"janus\":\"message\",\"transaction\":\"$(tx)\",\"body\":{\"request\":\"destroy\",\"room\":$ROOM}}")
[[ $(jq -r '.plugindata.data.videoroom' <<<"$r") == destroyed ]] && ok "destroy room" || bad "destroy room: $r"
for h in "$HID" "$HID2"; do
  r=$(post "/$SID/$h" "{\"janus\":\"detach\",\"transaction\":\"$(tx)\"}")
  [[ $(jq -r .janus <<<"$r") == success ]] && ok "detach $h" || bad "detach $h: $r"
done
r=$(post "/$SID" "{\"janus\":\"destroy\",\"transaction\":\"$(tx)\"}")
[[ $(jq -r .janus <<<"$r") == success ]] && ok "destroy session" || bad "destroy session: $r"

# ---- WebSocket, with a python3 stdlib client (subprotocol janus-protocol) --------------------
if timeout 30 python3 - "$WS_PORT" "$ROOM" <<'PY'; then ok "WebSocket API: session, attach, room, join, keepalive, teardown"; else bad "WebSocket API"; fi
import base64, json, os, socket, struct, sys

port, room = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"Sec-WebSocket-Protocol: janus-protocol\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
status = head.split(b"\r\n")[0].decode()
assert " 101 " in status, status
assert b"sec-websocket-protocol: janus-protocol" in head.lower(), head
print(f"     ws handshake: {status}")
buf = b""

def send(obj):
    data = json.dumps(obj).encode()
    mask = os.urandom(4)
    hdr = bytes([0x81])
    n = len(data)
    hdr += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n) if n < 65536 else bytes([0x80 | 127]) + struct.pack("!Q", n)
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

def read_exact(n):
    global buf
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("websocket closed")
        buf += chunk
    out, buf = buf[:n], buf[n:]
    return out

def recv():
    while True:
        b0, b1 = read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", read_exact(8))[0]
        payload = read_exact(n)
        op = b0 & 0x0F
        if op == 0x1:
            return json.loads(payload)
        if op == 0x9:  # ping -> pong
            s.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

def call(obj, want=lambda m: m.get("janus") != "ack"):
    obj = dict(obj, transaction=f"ws{os.urandom(4).hex()}")
    send(obj)
    for _ in range(20):
        m = recv()
        if m.get("transaction") == obj["transaction"] and want(m):
            return m
    raise RuntimeError(f"no reply to {obj}")

sid = call({"janus": "create"})["data"]["id"]
hid = call({"janus": "attach", "session_id": sid, "plugin": "janus.plugin.videoroom"})["data"]["id"]
r = call({"janus": "message", "session_id": sid, "handle_id": hid,
          "body": {"request": "create", "room": room, "publishers": 100, "bitrate": 0,
                   "audiocodec": "opus", "videocodec": "vp8"}})
assert r["plugindata"]["data"]["videoroom"] == "created", r
r = call({"janus": "message", "session_id": sid, "handle_id": hid,
          "body": {"request": "join", "ptype": "publisher", "room": room, "display": "ws"}})
assert r["janus"] == "event" and r["plugindata"]["data"]["videoroom"] == "joined", r
print(f"     ws joined as publisher id {r['plugindata']['data']['id']}")
r = call({"janus": "keepalive", "session_id": sid}, want=lambda m: True)
assert r["janus"] == "ack", r
r = call({"janus": "message", "session_id": sid, "handle_id": hid, "body": {"request": "leave"}})
assert r["plugindata"]["data"].get("leaving") == "ok", r
r = call({"janus": "message", "session_id": sid, "handle_id": hid, "body": {"request": "destroy", "room": room}})
assert r["plugindata"]["data"]["videoroom"] == "destroyed", r
assert call({"janus": "detach", "session_id": sid, "handle_id": hid})["janus"] == "success"
assert call({"janus": "destroy", "session_id": sid})["janus"] == "success"
s.close()
PY

# ---- Optional: real WebRTC through the VideoRoom with headless Chromium ----------------------
if [[ $FLOW == 1 ]]; then
  if timeout 150 node --experimental-websocket "$HERE/flow-check.mjs" "ws://127.0.0.1:$WS_PORT" "$WORKDIR" >"$WORKDIR/flow-check.out" 2>&1; then
    ok "flow-check.mjs (Chromium publishers + subscribers via WebSocket): $WORKDIR/flow-check.out"
  else
    bad "flow-check.mjs: see $WORKDIR/flow-check.out"
    tail -n 20 "$WORKDIR/flow-check.out"
  fi
fi

stop_janus
if kill -0 "$PID" 2>/dev/null; then bad "janus pid $PID still running"; else ok "janus pid $PID stopped"; fi
trap - EXIT
errors=$(grep -c '\[ERR\]' "$WORKDIR/janus.log" || true)
echo "# janus.log: $errors [ERR] line(s); expected: \"No such feed\" (provoked above) and, with --flow, \"Room 4242 already exists\""
if [[ $fails -eq 0 ]]; then echo "# selftest passed"; else echo "# selftest: $fails failure(s)"; exit 1; fi
