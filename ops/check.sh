#!/usr/bin/env bash
# check: gofmt, go vet, staticcheck (pinned), govulncheck (pinned; only where its database at vuln.go.dev
# answers: it is skipped, with a message, on machines that cannot reach it) and "regenerating changes nothing".
# Env: SY_VULNCHECK=0 skips govulncheck, SY_VULNCHECK=1 makes an unreachable database a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# staticcheck's version is pinned here; raise it deliberately and fix what the new version finds
STATICCHECK_VERSION=v0.8.2
# govulncheck's version, pinned the same way
GOVULNCHECK_VERSION=v1.10.0
echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' | grep -v '_gen\(_test\)\?\.go$') 2>&1 || true)
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi
echo "== go vet"
go vet ./...
go vet -tags integration ./...
echo "== staticcheck $STATICCHECK_VERSION (pinned; from the Go module proxy)"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" -tags integration ./...
echo "== govulncheck $GOVULNCHECK_VERSION (pinned; database at vuln.go.dev)"
if [ "${SY_VULNCHECK:-auto}" = 0 ]; then
  echo "govulncheck: skipped (SY_VULNCHECK=0)"
elif curl -fsS -m 10 -o /dev/null https://vuln.go.dev/index/db.json 2>/dev/null; then
  go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" ./...
elif [ "${SY_VULNCHECK:-auto}" = 1 ]; then
  echo "govulncheck: vuln.go.dev is unreachable and SY_VULNCHECK=1"; exit 1
else
  echo "govulncheck: SKIPPED, vuln.go.dev is unreachable from this machine (run make check where it is)"
fi
echo "== generated code is up to date"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for d in codec control/internal/store; do  # the packages with msgp code (make generate)
  mkdir -p "$tmp/$d"
  cp "$d"/*_gen*.go "$tmp/$d"/
  go generate "./$d" >/dev/null
  chmod 0644 "$d"/*_gen.go "$d"/*_gen_test.go
  for f in "$tmp/$d"/*.go; do
    if ! cmp -s "$f" "$d/$(basename "$f")"; then
      echo "$d/$(basename "$f") is stale: run 'make generate' and commit"; exit 1
    fi
  done
done
echo "check: ok"
