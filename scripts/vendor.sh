#!/usr/bin/env bash
# The web client's browser libraries, vendored as the unmodified files of their npm packages.
#
# web/vendor/package-lock.json pins every package and the integrity hash of its tarball. This
# script fetches each tarball with `npm pack`, refuses one whose sha512 is not the lockfile's,
# unpacks them, and resolves what the client imports (web/vendor/files.txt) as a browser would
# (scripts/vendor-resolve.mjs): the modules reached and each package's licence are copied
# unmodified into web/vendor/<package>/..., web/vendor/importmap.json maps every bare specifier to
# its one file (the server puts it inline in the pages, allowed by its hash in the CSP), and
# web/vendor/SHA256SUMS records every file.
#   scripts/vendor.sh           regenerate web/vendor/ from the lockfile
#   scripts/vendor.sh --check   regenerate into a scratch directory and fail unless the
#                               committed files are exactly those (CI runs this)
# To change a version: edit web/vendor/package.json, run
#   (cd web/vendor && npm install --package-lock-only --ignore-scripts)
# then this script, and commit the lot.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=web/vendor
check=0
[ "${1:-}" = "--check" ] && check=1

scratch=$(mktemp -d /tmp/cohort-vendor.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# "<path under node_modules> <name>@<version> <integrity>" for every package of the lockfile.
node -e '
  const lock = require(process.argv[1]);
  for (const [path, p] of Object.entries(lock.packages)) {
    if (!path) continue;
    const name = path.slice(path.lastIndexOf("node_modules/") + 13);
    if (!p.version || !p.integrity) { console.error(`vendor: ${path} has no version or integrity`); process.exit(1); }
    console.log(`${path} ${name}@${p.version} ${p.integrity}`);
  }' "$PWD/$vendor/package-lock.json" > "$scratch/packages"

mkdir -p "$scratch/tgz"
# shellcheck disable=SC2046
(cd "$scratch/tgz" && npm pack --silent --loglevel=error $(cut -d' ' -f2 "$scratch/packages") >/dev/null)
while read -r path spec integrity; do
  name=${spec%@*}
  tgz="$scratch/tgz/$(printf '%s' "${name#@}" | tr / -)-${spec##*@}.tgz"
  [ -f "$tgz" ] || { echo "vendor: npm pack $spec gave no $tgz" >&2; exit 1; }
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  [ "$got" = "$integrity" ] || { echo "vendor: $spec's tarball is $got, the lockfile says $integrity" >&2; exit 1; }
  mkdir -p "$scratch/$path"
  tar -xzf "$tgz" -C "$scratch/$path" --strip-components=1
done < "$scratch/packages"

out="$scratch/out"
mkdir -p "$out"
mapfile -t files < <(node scripts/vendor-resolve.mjs "$scratch/node_modules" "$vendor/files.txt" "$out")
(cd "$out" && sha256sum "${files[@]}" importmap.json) > "$out/SHA256SUMS"

if [ "$check" -eq 1 ]; then
  status=0
  for f in "${files[@]}" importmap.json SHA256SUMS; do
    cmp -s "$out/$f" "$vendor/$f" || { echo "vendor: web/vendor/$f differs from its package (run scripts/vendor.sh)" >&2; status=1; }
  done
  # Nothing vendored that the resolution does not reach.
  extra=$(cd "$vendor" && find . -type f ! -name package.json ! -name package-lock.json ! -name files.txt ! -name SHA256SUMS ! -name importmap.json | sed 's|^\./||' | sort)
  for f in $extra; do
    printf '%s\n' "${files[@]}" | grep -qxF "$f" || { echo "vendor: web/vendor/$f is not reached from files.txt" >&2; status=1; }
  done
  (cd "$vendor" && sha256sum --quiet -c SHA256SUMS) || status=1
  [ "$status" -eq 0 ] && echo "vendor: ${#files[@]} files match their packages"
  exit "$status"
fi

# Replace what was vendored before with what the lockfile gives now.
find "$vendor" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
for f in "${files[@]}" importmap.json SHA256SUMS; do
  mkdir -p "$vendor/$(dirname "$f")"
  cp "$out/$f" "$vendor/$f"
done
echo "vendor: ${#files[@]} files and the import map written to $vendor"
