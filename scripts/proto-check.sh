#!/usr/bin/env bash
# Fails when services/rpc/gen is not what `npm run proto` makes from proto/ today: regenerates into
# a temporary directory (the tree is not touched) and compares.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# -o prefixes every `out:` of buf.gen.yaml, so the files land at $out/services/rpc/gen.
npx --no-install buf generate -o "$out"
if ! diff -r -u "$out/services/rpc/gen" services/rpc/gen; then
  echo "services/rpc/gen differs from what proto/ generates: run \`npm run proto\` and commit the result" >&2
  exit 1
fi
