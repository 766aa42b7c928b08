#!/bin/sh
# Build a private dist in .bench/dist from the committed src plus the working-tree versions of the files named as
# arguments, so experiments are not broken by other work in progress in src/ or dist/.
# BASE=<commit> takes src from that commit instead of HEAD.
# Usage: bench/experiments/snapshot-dist.sh [src/file.ts ...]; then DIST=.bench/dist node bench/experiments/....
set -eu
cd "$(dirname "$0")/../.."
rm -rf .bench/src .bench/dist
mkdir -p .bench
git archive "${BASE:-HEAD}" src | tar -x -C .bench
for f in "$@"; do cp "$f" ".bench/$f"; done
cat > .bench/tsconfig.json <<'JSON'
{
  "extends": "../tsconfig.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "declaration": false, "sourceMap": false },
  "include": ["src/**/*.ts"],
  "exclude": ["src/**/*.test.ts"]
}
JSON
npx tsc -p .bench/tsconfig.json
test -f .bench/dist/cli/main.js
echo "built .bench/dist"
