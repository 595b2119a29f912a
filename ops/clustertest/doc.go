// Package clustertest proves that the product's Kafka streams survive the loss of a partition
// leader in the 3-broker KRaft cluster that ops/services/kafka.sh starts (SY_KAFKA_BROKERS_N=3,
// replication factor 3, min.insync.replicas 2): every record produced before, during and after
// the SIGKILL of the leader is consumed, and delivery resumes within the bound documented in
// docs/operations.md.
//
// Its tests carry the "integration" build tag, read SY_TEST_KAFKA_BROKERS (source
// ops/services/env.sh; fewer than 3 brokers fails the test) and kill and restart brokers through
// `ops/services/kafka.sh kill|start ID`, so they are named TestOutage* and run in the serial
// outage pass of ops/test.sh. Each test uses its own topics (sy.clustertest.*).
package clustertest
