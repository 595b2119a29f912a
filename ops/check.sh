#!/usr/bin/env bash
# check: gofmt, go vet, and "regenerating changes nothing".
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' | grep -v '_gen\(_test\)\?\.go$') 2>&1 || true)
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi
echo "== go vet"
go vet ./...
go vet -tags integration ./...
echo "== generated code is up to date"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp codec/*_gen*.go "$tmp"/
go generate ./codec/... >/dev/null
chmod 0644 codec/*_gen.go codec/*_gen_test.go
for f in "$tmp"/*.go; do
  if ! cmp -s "$f" "codec/$(basename "$f")"; then
    echo "codec/$(basename "$f") is stale: run 'make generate' and commit"; exit 1
  fi
done
echo "check: ok"
