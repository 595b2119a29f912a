#!/usr/bin/env bash
# install-chromium.sh: installs Debian's chromium (for the UI's browser tests) when it is missing.
# Shares ops/services' apt lock and update stamp so concurrent installs do not collide.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
cache="${SY_CACHE_DIR:-$HOME/.cache/switchyard}"
mkdir -p "$cache"
(
	flock 9
	[ -x /usr/bin/chromium ] && exit 0
	apt=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
	if [ ! -e "$cache/apt-updated.stamp" ]; then
		"${apt[@]}" update >&2 && touch "$cache/apt-updated.stamp"
	fi
	if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends chromium fonts-dejavu-core >&2; then
		"${apt[@]}" update >&2 && touch "$cache/apt-updated.stamp"
		DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends chromium fonts-dejavu-core >&2
	fi
) 9>"$cache/apt.lock"
[ -x /usr/bin/chromium ] || { echo "install-chromium: /usr/bin/chromium still missing" >&2; exit 1; }
