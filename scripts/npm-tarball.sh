#!/usr/bin/env bash
# Usage: scripts/npm-tarball.sh NAME VERSION PINNED_INTEGRITY DEST_DIR
# Downloads NAME@VERSION from the npm registry with `npm pack`, checks the tarball's sha512 against
# the pinned integrity and against the registry's published dist.integrity and dist.shasum, then
# unpacks it into DEST_DIR (the tarball's `package/` folder becomes DEST_DIR). Fails on any mismatch.
set -euo pipefail
name=$1 version=$2 pinned=$3 dest=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

published_integrity=$(npm view "$name@$version" dist.integrity)
published_shasum=$(npm view "$name@$version" dist.shasum)
if [ "$published_integrity" != "$pinned" ]; then
  echo "npm-tarball: $name@$version: the registry publishes integrity $published_integrity, the repository pins $pinned" >&2
  exit 1
fi
(cd "$work" && npm pack "$name@$version" --silent >/dev/null)
tgz=$(find "$work" -maxdepth 1 -name '*.tgz' -print -quit)
[ -n "$tgz" ] || { echo "npm-tarball: npm pack $name@$version produced no tarball" >&2; exit 1; }
digest() { node -e 'process.stdout.write(require("crypto").createHash(process.argv[1]).update(require("fs").readFileSync(process.argv[2])).digest(process.argv[3]))' "$@"; }
actual_integrity="sha512-$(digest sha512 "$tgz" base64)"
actual_shasum=$(digest sha1 "$tgz" hex)
if [ "$actual_integrity" != "$pinned" ] || [ "$actual_shasum" != "$published_shasum" ]; then
  echo "npm-tarball: $name@$version: downloaded tarball has integrity $actual_integrity / shasum $actual_shasum, expected $pinned / $published_shasum" >&2
  exit 1
fi
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
tar -xzf "$tgz" -C "$dest.tmp" --strip-components=1 --no-same-owner
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "$pinned" > "$dest/.integrity"
