# Source this file (`source ops/services/env.sh`) to point integration tests at the services
# started by ops/services/up.sh. Values already set in the environment are kept, so tests can
# be pointed at other servers by exporting these variables first (see docs/services.md).
# shellcheck shell=bash
export SY_TEST_REDIS_ADDR="${SY_TEST_REDIS_ADDR:-127.0.0.1:${SY_REDIS_PORT:-16379}}"
# Kafka: every node of the cluster kafka.sh starts (SY_KAFKA_BROKERS_N, default 3, on consecutive ports)
if [ -z "${SY_TEST_KAFKA_BROKERS:-}" ]; then
	SY_TEST_KAFKA_BROKERS=127.0.0.1:${SY_KAFKA_PORT:-19092}
	for _sy_i in $(seq 2 "${SY_KAFKA_BROKERS_N:-3}"); do
		SY_TEST_KAFKA_BROKERS="$SY_TEST_KAFKA_BROKERS,127.0.0.1:$((${SY_KAFKA_PORT:-19092} + _sy_i - 1))"
	done
	unset _sy_i
fi
export SY_TEST_KAFKA_BROKERS
# Redis with Sentinel (ops/services/redisha.sh): the three sentinels and the master set name
_sy_s=${SY_REDIS_SENTINEL_PORT:-26380}
export SY_TEST_REDIS_SENTINELS="${SY_TEST_REDIS_SENTINELS:-127.0.0.1:$_sy_s,127.0.0.1:$((_sy_s + 1)),127.0.0.1:$((_sy_s + 2))}"
unset _sy_s
export SY_TEST_REDIS_MASTER_SET="${SY_TEST_REDIS_MASTER_SET:-sy}"
export SY_TEST_MONGO_URI="${SY_TEST_MONGO_URI:-mongodb://127.0.0.1:${SY_MONGO_PORT:-27018}/}"
export SY_TEST_CLICKHOUSE_ADDR="${SY_TEST_CLICKHOUSE_ADDR:-127.0.0.1:${SY_CLICKHOUSE_TCP_PORT:-19000}}"
export SY_TEST_CLICKHOUSE_HTTP="${SY_TEST_CLICKHOUSE_HTTP:-127.0.0.1:${SY_CLICKHOUSE_HTTP_PORT:-18123}}"
