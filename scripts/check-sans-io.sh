#!/usr/bin/env bash
# Fails when sfu-core depends, directly or not, on an async runtime, a WebRTC stack or a socket
# library: the forwarding core must stay sans-IO.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree -p sfu-core -e normal --prefix none --locked)
bad=$(printf '%s\n' "$tree" | grep -E '^(tokio|webrtc|rtc|axum|mio|async-std|smol|hyper|socket2)( |-)' || true)
if [ -n "$bad" ]; then
  echo "sfu-core must stay sans-IO, but depends on:" >&2
  printf '%s\n' "$bad" | sort -u >&2
  exit 1
fi
echo "sfu-core depends on: $(printf '%s\n' "$tree" | awk '{print $1}' | sort -u | tr '\n' ' ')"
