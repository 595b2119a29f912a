#!/usr/bin/env bash
# Installs (if missing) and starts every integration-test service on loopback, waits until each
# answers, and prints the addresses. Idempotent: running services are left as they are.
# They start in parallel (installs/builds of a cold machine overlap); per-service output
# goes to .services/log/<name>.start.log and is printed if a start fails.
# Usage: up.sh [service...]   (default: redis redisha clickhouse kafka mongo)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SY_SVC=up
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(redis redisha clickhouse kafka mongo)

t0=$SECONDS
for s in "${services[@]}"; do
	[ -f "$HERE/$s.sh" ] || sy_die "unknown service $s (have: redis redisha clickhouse kafka mongo)"
done
declare -A names
for s in "${services[@]}"; do
	# SY_KAFKA_RESET_CROWDED: a run's start may empty a Kafka crowded by earlier runs (kafka.sh)
	SY_KAFKA_RESET_CROWDED=1 bash "$HERE/$s.sh" start >"$SY_LOG_DIR/$s.start.log" 2>&1 &
	names[$!]=$s
done
failed=()
for _ in "${services[@]}"; do
	# report each service as it finishes
	rc=0
	wait -n -p done_pid "${!names[@]}" || rc=$?
	s="${names[$done_pid]}"
	unset "names[$done_pid]"
	if [ "$rc" -eq 0 ]; then
		sy_log "$s up ($((SECONDS - t0))s)"
	else
		failed+=("$s")
		sy_log "$s FAILED to start; its output:"
		sed 's/^/    /' "$SY_LOG_DIR/$s.start.log" >&2
	fi
done
# every server must still be running after all are up (one that died right after answering
# would otherwise only show up as connection errors in the tests)
for s in "${services[@]}"; do
	if [[ " ${failed[*]} " != *" $s "* ]] && ! bash "$HERE/$s.sh" status >/dev/null; then
		failed+=("$s")
		sy_log "$s exited after it answered; last log lines:"
		tail -n 30 "$SY_LOG_DIR/$s.log" >&2 || true
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	sy_die "not started: ${failed[*]} (logs in $SY_LOG_DIR)"
fi

source "$HERE/env.sh"
cat <<MSG
services up in $((SECONDS - t0))s (data/logs: $SY_SERVICES_DIR, cache: $SY_CACHE_DIR)
  SY_TEST_REDIS_ADDR=$SY_TEST_REDIS_ADDR
  SY_TEST_REDIS_SENTINELS=$SY_TEST_REDIS_SENTINELS (master set $SY_TEST_REDIS_MASTER_SET)
  SY_TEST_KAFKA_BROKERS=$SY_TEST_KAFKA_BROKERS
  SY_TEST_MONGO_URI=$SY_TEST_MONGO_URI
  SY_TEST_CLICKHOUSE_ADDR=$SY_TEST_CLICKHOUSE_ADDR
  SY_TEST_CLICKHOUSE_HTTP=$SY_TEST_CLICKHOUSE_HTTP
point tests at them with: source ops/services/env.sh
MSG
