#!/usr/bin/env bash
# Stops exactly the services that up.sh started (by their pid files under .services/run);
# data stays. Usage: down.sh [service...]   (default: all five)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(mongo kafka clickhouse redisha redis)
rc=0
for s in "${services[@]}"; do
	[ -f "$HERE/$s.sh" ] || continue
	bash "$HERE/$s.sh" stop || rc=1
done
exit $rc
