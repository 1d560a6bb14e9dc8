#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, from Debian's packages and the
# npm registry only (no browser downloads). Idempotent: does nothing when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/firefox-esr ] || need+=(firefox-esr)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v janus >/dev/null 2>&1 || need+=(janus)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
# The ICE-TCP browser test blocks UDP inside its own namespace with it.
command -v nft >/dev/null 2>&1 || need+=(nftables)

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

for tool in clippy fmt; do
  cargo "$tool" --version >/dev/null 2>&1 || { echo "cargo $tool is missing from the Rust toolchain" >&2; exit 1; }
done

# geckodriver drives Firefox ESR over WebDriver; it is built from crates.io.
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v geckodriver >/dev/null 2>&1; then
  echo "building geckodriver (cargo install, a few minutes once per machine)"
  cargo install geckodriver --locked --quiet
fi

# playwright-core drives /usr/bin/chromium; it never downloads a browser of its own.
if [ ! -d e2e/node_modules/playwright-core ]; then
  (cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
# Independent checkers (calendar parser, OpenAPI validator) from PyPI, in a venv of their own.
venv="${COHORT_PY_VENV:-/var/tmp/cohort-py}"
if ! cmp -s scripts/py/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  echo "installing the Python checkers into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/py/requirements.txt
  cp scripts/py/requirements.txt "$venv/requirements.txt"
fi
echo "test prerequisites present"
