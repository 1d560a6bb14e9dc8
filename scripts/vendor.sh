#!/usr/bin/env bash
# The web client's browser libraries, vendored as the unmodified files of their npm packages.
# web/vendor/package-lock.json pins each package and its integrity hash; `npm ci` checks every
# tarball against it. The files web/vendor/files.txt lists are then copied into
# web/vendor/<package>/..., and web/vendor/SHA256SUMS records them.
#   scripts/vendor.sh           regenerate web/vendor/ from the lockfile
#   scripts/vendor.sh --check   regenerate into a scratch directory and fail unless the
#                               committed files are exactly those (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=web/vendor
check=0
[ "${1:-}" = "--check" ] && check=1

scratch=$(mktemp -d /tmp/cohort-vendor.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp "$vendor/package.json" "$vendor/package-lock.json" "$scratch/"
(cd "$scratch" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

out="$scratch/out"
mkdir -p "$out"
files=()
while read -r f; do
  case "$f" in ''|'#'*) continue ;; esac
  src="$scratch/node_modules/$f"
  [ -f "$src" ] || { echo "vendor: $f is not in its package" >&2; exit 1; }
  mkdir -p "$out/$(dirname "$f")"
  cp "$src" "$out/$f"
  files+=("$f")
done < "$vendor/files.txt"
(cd "$out" && sha256sum "${files[@]}") > "$out/SHA256SUMS"

if [ "$check" -eq 1 ]; then
  status=0
  for f in "${files[@]}" SHA256SUMS; do
    cmp -s "$out/$f" "$vendor/$f" || { echo "vendor: web/vendor/$f differs from its package (run scripts/vendor.sh)" >&2; status=1; }
  done
  # Nothing vendored that the list does not name.
  extra=$(cd "$vendor" && find . -type f ! -name package.json ! -name package-lock.json ! -name files.txt ! -name SHA256SUMS | sed 's|^\./||' | sort)
  for f in $extra; do
    printf '%s\n' "${files[@]}" | grep -qxF "$f" || { echo "vendor: web/vendor/$f is not in files.txt" >&2; status=1; }
  done
  (cd "$vendor" && sha256sum --quiet -c SHA256SUMS) || status=1
  [ "$status" -eq 0 ] && echo "vendor: ${#files[@]} files match their packages"
  exit "$status"
fi

for f in "${files[@]}"; do
  mkdir -p "$vendor/$(dirname "$f")"
  cp "$out/$f" "$vendor/$f"
done
cp "$out/SHA256SUMS" "$vendor/SHA256SUMS"
echo "vendor: ${#files[@]} files written to $vendor"
