#!/usr/bin/env bash
# Debian packages the tests use (needs root): independent S3 clients (aws, rclone), Ceph RGW for the
# compatibility suite, a JDK for real heap dumps, util-linux for unshare/mount/setpriv, and for the
# agent image (npm run image): podman + runc (daemonless build and run), mmdebstrap (stand-in base
# images from Debian packages), uidmap (the same without root); gcc, pkg-config, libfuse3-dev and fuse3
# for the small C programs of the hostile-tenant tests (a renameat2 race, a FUSE file whose reads hang);
# chromium for the web page's browser tests (driven headless by playwright-core, which never downloads a browser).
# Then the image's Node 24 binary for the tests that run the bundle under it (scripts/fetch-node.sh).
set -euo pipefail
pkgs=(awscli rclone ceph-mon ceph-osd radosgw ceph-common openjdk-17-jdk-headless util-linux bc curl
  podman runc mmdebstrap uidmap gcc pkg-config libfuse3-dev fuse3 chromium)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "test dependencies present: ${pkgs[*]}"
echo "node for the image's runtime line: $(bash "$(dirname "$0")/fetch-node.sh")"
