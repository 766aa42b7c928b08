#!/usr/bin/env bash
# CI for the container: makes sure a Docker daemon answers (as root on Debian/Ubuntu: installs docker.io when
# dockerd is missing and starts dockerd in the background, stopped again at the end), then runs the container test
# (npm run test:container: the base images from scripts/docker-base.sh, the real Dockerfile, the image run as the
# README says). Called by .ci/run after the unit and integration suite; needs `npm ci` to have run.
set -euo pipefail
cd "$(dirname "$0")/.."

started_pid=""
log=""
stop_dockerd() {
  if [ -n "$started_pid" ] && kill -TERM "$started_pid" 2>/dev/null; then
    for _ in $(seq 1 60); do kill -0 "$started_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$started_pid" 2>/dev/null || true
  fi
  [ -z "$log" ] || rm -f "$log"
}
trap stop_dockerd EXIT

if ! timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ci-container: no Docker daemon answers; install docker.io and start dockerd (sudo apt-get install -y docker.io && sudo systemctl start docker), or run as root" >&2
    exit 1
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    echo "ci-container: installing docker.io"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q docker.io >/dev/null ||
      { timeout 300 apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q docker.io >/dev/null; }
  fi
  log="$(mktemp -t gatehouse-dockerd.XXXXXX.log)"
  echo "ci-container: starting dockerd (log: $log)"
  dockerd >"$log" 2>&1 &
  started_pid=$!
  for _ in $(seq 1 120); do
    timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    kill -0 "$started_pid" 2>/dev/null || { tail -n 20 "$log" >&2; echo "ci-container: dockerd exited" >&2; exit 1; }
    sleep 0.5
  done
  timeout 5 docker version >/dev/null 2>&1 || { tail -n 20 "$log" >&2; echo "ci-container: dockerd does not answer after 60 s" >&2; exit 1; }
fi
echo "ci-container: docker $(docker version --format '{{.Server.Version}}')"

# scripts/docker-base.sh bootstraps the base image with debootstrap: installed here as docker.io is (root + apt).
if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ci-container: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q debootstrap >/dev/null ||
      { timeout 300 apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q debootstrap >/dev/null; }
  else
    echo "ci-container: debootstrap is missing; install it with: sudo apt-get install -y debootstrap" >&2
    exit 1
  fi
fi

# The test builds the base images (cached by tag) and the Dockerfile itself; bounded as a whole.
timeout 3600 npm run test:container -- "$@"
