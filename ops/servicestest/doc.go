// Package servicestest proves that the local services started by ops/services/up.sh answer
// the way the product uses them, through the product's own clients: Kafka (franz-go, consumer
// group with committed offsets), Redis (rueidis, RESP3 client-side caching), the MongoDB wire
// protocol (mongo-driver against FerretDB, unique index) and ClickHouse (clickhouse-go/v2 native
// columnar insert, plus the HTTP interface).
//
// Its tests carry the "integration" build tag and read the addresses from SY_TEST_* variables
// (source ops/services/env.sh); a missing variable fails the test. TestOutageKafkaRestart stops
// and restarts the broker through ops/services/kafka.sh, so it runs in the serial outage pass of
// ops/test.sh.
package servicestest
