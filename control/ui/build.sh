#!/usr/bin/env bash
# build.sh: installs the UI's npm packages (npm ci, cache under $SY_CACHE_DIR/npm), type-checks src/ (tsc) and builds
# dist/ (embedded into the Go binary by package ui). `build.sh --check` fails when the committed
# dist/ is not what the sources build to; `build.sh --install` only installs the npm packages
# (the browser tests need playwright-core); `build.sh --gen-api` first regenerates src/api.gen.ts
# from the API's OpenAPI document (needs Go; run it after changing the API's routes or types).
# The build fails when the script is larger than its budget (build.mjs, docs/ui.md "Bundle size").
set -euo pipefail
cd "$(dirname "$0")"
cache="${SY_CACHE_DIR:-$HOME/.cache/switchyard}/npm"
mkdir -p "$cache"
exec 9>"$cache/../ui-npm.lock"
flock 9
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.sy-lock-hash 2>/dev/null)" != "$want" ]; then
	npm ci --cache "$cache" --no-audit --no-fund --prefer-offline >&2
	echo "$want" >node_modules/.sy-lock-hash
fi
[ "${1:-}" = "--install" ] && exit 0
if [ "${1:-}" = "--gen-api" ]; then
	shift
	doc="$(mktemp)"
	trap 'rm -f "$doc"' EXIT
	(cd ../.. && go run ./control/ui/internal/apidoc) >"$doc"
	node gen-api.mjs "$doc"
fi
./node_modules/.bin/tsc -p . # type check (TypeScript, strict); esbuild only strips types
node build.mjs "$@"
