#!/usr/bin/env bash
# Installs what the test suite needs and is not part of the Rust toolchain. Idempotent; does
# nothing when everything is present. Uses only Debian's packages.
set -euo pipefail

need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need[*]} (run as root to install them)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
for tool in clippy fmt; do
  cargo "$tool" --version >/dev/null 2>&1 || { echo "cargo $tool is missing from the Rust toolchain" >&2; exit 1; }
done
echo "test prerequisites present"
