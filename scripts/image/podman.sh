#!/usr/bin/env bash
# podman with this repository's settings: its own image store (vfs driver, so it works wherever
# overlayfs does not, e.g. inside another container), runc, cgroupfs, the caller's ulimits.
# Use it to look at or export what `npm run image` built:
#   scripts/image/podman.sh images
#   scripts/image/podman.sh save -o heapdump-agent.tar localhost/heapdump-agent:0.1.0
#   scripts/image/podman.sh push localhost/heapdump-agent:0.1.0 docker://<registry>/heapdump-agent:0.1.0
# The store lives outside the repository (HEAPDUMP_IMAGE_STORE to move it); nothing relies on it
# surviving: scripts/image/build.sh rebuilds whatever is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
  store=${HEAPDUMP_IMAGE_STORE:-/var/lib/containers/heapdump-pipeline}
  runroot=${HEAPDUMP_IMAGE_RUNROOT:-/run/containers/heapdump-pipeline}
else
  store=${HEAPDUMP_IMAGE_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/containers/heapdump-pipeline}
  runroot=${HEAPDUMP_IMAGE_RUNROOT:-${XDG_RUNTIME_DIR:-/tmp/heapdump-pipeline-$(id -u)}/containers/heapdump-pipeline}
fi
export CONTAINERS_CONF="$here/containers.conf"
exec podman --root "$store/storage" --runroot "$runroot" --storage-driver vfs \
  --runtime runc --cgroup-manager cgroupfs --tmpdir "$runroot/libpod" "$@"
