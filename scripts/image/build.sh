#!/usr/bin/env bash
# `npm run image`: builds agent/Dockerfile from the repository with podman (no daemon, no registry
# needed) into the repository's image store (scripts/image/podman.sh) and tags it
# localhost/heapdump-agent:<package.json version> (HEAPDUMP_AGENT_IMAGE to change).
#
# Bases: by default (HEAPDUMP_IMAGE_BASES=stand-in) local stand-ins for the upstream images the
# Dockerfile names are built from Debian's and npm's package registries (scripts/image/stand-in-bases.sh,
# cached) and the build never pulls. HEAPDUMP_IMAGE_BASES=upstream pulls the real upstream images
# instead (a machine that reaches the container registries).
# Extra arguments go to `podman build`, e.g.
#   npm run image -- --build-arg NODE_IMAGE=registry.access.redhat.com/ubi9/nodejs-24-minimal
#
# Up to date = no build: with stand-in bases, an image of the same tag whose build key (a label: the
# version, the revision, the build arguments, the base images' IDs and the content of every file the build
# copies) equals this build's is kept as it is (HEAPDUMP_IMAGE_REBUILD=1 builds anyway). Builds are
# serialised by a lock, so the image test and `npm run release` running at once build it once.
# HEAPDUMP_IMAGE_REVISION sets the revision label where there is no git checkout (a copy of one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
podman=("$here/podman.sh")

for tool in podman runc; do
  command -v "$tool" >/dev/null || { echo "npm run image: '$tool' is not installed (npm run setup:test installs it)" >&2; exit 1; }
done
version=$(node -p 'require("./package.json").version')
image=${HEAPDUMP_AGENT_IMAGE:-localhost/heapdump-agent:$version}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git status --porcelain -- agent/src scripts/bundle-agent.ts package.json package-lock.json agent/Dockerfile 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
revision=${HEAPDUMP_IMAGE_REVISION:-$revision}

# One build at a time per user (the store is shared); the second waits and then finds the image up to date.
exec 9>"${TMPDIR:-/tmp}/heapdump-image-build-$(id -u).lock"
flock 9

key=
case "${HEAPDUMP_IMAGE_BASES:-stand-in}" in
  stand-in)
    command -v mmdebstrap >/dev/null || { echo "npm run image: 'mmdebstrap' is not installed (npm run setup:test installs it)" >&2; exit 1; }
    bash "$here/stand-in-bases.sh"
    bases=$(sed -n 's/^ARG \(NODE\|DEBIAN\)_IMAGE=//p' agent/Dockerfile | while read -r base; do "${podman[@]}" image inspect --format '{{.Id}}' "$base"; done)
    key=$({
      printf '%s\n' "$version" "$revision" "$*" "$bases"
      find package.json package-lock.json tsconfig.json scripts/bundle-agent.ts agent/Dockerfile agent/Dockerfile.dockerignore agent/src -type f \
        | LC_ALL=C sort | while read -r f; do printf '%s %s\n' "$f" "$(sha256sum < "$f" | cut -c1-64)"; done
    } | sha256sum | cut -c1-64)
    if [ "${HEAPDUMP_IMAGE_REBUILD:-0}" != 1 ] \
      && [ "$("${podman[@]}" image inspect --format '{{index .Labels "io.heapdump-pipeline.build-key"}}' "$image" 2>/dev/null || true)" = "$key" ]; then
      echo "up to date: $image (build key ${key:0:12}; HEAPDUMP_IMAGE_REBUILD=1 builds anyway)"
      exit 0
    fi
    pull=never ;;
  upstream) pull=always ;;
  *) echo "npm run image: HEAPDUMP_IMAGE_BASES is '$HEAPDUMP_IMAGE_BASES', expected stand-in or upstream" >&2; exit 1 ;;
esac

# The build stage downloads npm packages: it trusts what this machine trusts (a TLS-intercepting
# proxy's CA is the common reason), through a build secret that never reaches the image.
# HEAPDUMP_BUILD_CA=<file> to choose the bundle, =none to pass none.
ca=${HEAPDUMP_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
secret=()
if [ "$ca" != none ] && [ -s "$ca" ]; then secret=(--secret "id=build-ca,src=$ca"); fi

# --layers=false: with the vfs driver every cached layer is a full copy of the file system; one
# commit per stage is faster and keeps the store small. npm's cache is a cache mount instead.
"${podman[@]}" build --pull="$pull" --network=host --layers=false \
  -f agent/Dockerfile --ignorefile agent/Dockerfile.dockerignore \
  --build-arg AGENT_VERSION="$version" --build-arg REVISION="$revision" "${secret[@]}" \
  ${key:+--label "io.heapdump-pipeline.build-key=$key"} -t "$image" "$@" .
# the previous build of the same tag is now untagged: drop it (the store is ours alone)
"${podman[@]}" image prune --force >/dev/null
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
echo "built $image ($((size / 1000000)) MB uncompressed)"
