#!/usr/bin/env bash
# Runs a command in a private network namespace of its own: loopback, plus a veth pair whose two
# ends (veth0 10.200.0.1, veth1 10.200.0.2) both live inside it, with a default route through
# it. Firefox gathers ICE candidates only when a non-loopback interface with a default route
# exists, and Janus's libnice never gathers on loopback; these addresses exist only inside the
# namespace, so nothing can leave it. Needs root (unshare -n).
# The veth pair gets no IPv6: its link-local address would finish duplicate address detection a
# second or two after start, and Chromium takes that address change for a network change and
# fails the requests in flight (net::ERR_NETWORK_CHANGED), as it once did to a browser test.
# Ephemeral ports start at 54000, above every fixed port a server in the namespace binds (the
# e2e servers' 51000-53350, the benches' 40000-40200 and 47000-47120, Janus's 20000-29999), so a
# browser's or a client's port-0 socket can never take one first and fail a server's bind.
#   scripts/netns.sh <command> [args...]
set -euo pipefail
unshare -n true 2>/dev/null || { echo "this needs unshare -n (root) to keep traffic inside" >&2; exit 1; }
exec unshare -n sh -c '
  ip link set lo up &&
  sysctl -qw net.ipv4.ip_local_port_range="54000 60999" &&
  if [ -w /proc/sys/net/ipv6/conf/default/disable_ipv6 ]; then
    echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
  fi &&
  ip link add veth0 type veth peer name veth1 &&
  ip addr add 10.200.0.1/24 dev veth0 && ip addr add 10.200.0.2/24 dev veth1 &&
  ip link set veth0 up && ip link set veth1 up &&
  ip route add default via 10.200.0.2 dev veth0 &&
  exec "$@"' sh "$@"
