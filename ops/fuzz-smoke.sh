#!/usr/bin/env bash
# fuzz-smoke: run every Fuzz target in the module for a short time ($1, default 4s).
#
# A target fails the run when go test fails, except in one case: Go 1.26's fuzz
# coordinator can report "context deadline exceeded" when -fuzztime expires
# while a worker is mid-input (golang/go#75804, fixed in Go 1.27). That run wrote
# no failing input, so it is reported as the known race and not counted as a
# failure; a real failure always writes its input to testdata/fuzz/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-4s}
n=0
races=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while IFS= read -r f; do
  dir=$(dirname "$f")
  for name in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$f" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "== fuzz $dir $name ($t)"
    corpus="$dir/testdata/fuzz/$name"
    before=$(ls "$corpus" 2>/dev/null | sort || true)
    rc=0
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="$t" "./$dir" 2>&1 | tee "$log" || rc=$?
    if [ "$rc" -ne 0 ]; then
      after=$(ls "$corpus" 2>/dev/null | sort || true)
      if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "fuzz-smoke: $name: Go's fuzz-coordinator deadline race (golang/go#75804), no failing input written: not a failure"
        races=$((races+1))
      else
        echo "fuzz-smoke: $name FAILED (exit $rc)"
        exit "$rc"
      fi
    fi
    n=$((n+1))
  done
done < <(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' || true)
echo "fuzz-smoke: $n targets ok ($races ended by Go's deadline race, golang/go#75804)"
