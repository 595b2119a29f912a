// Package analytics is Switchyard's event analytics component: it ingests the
// flag evaluations and custom metric events the edge produces (Kafka topic
// "<prefix>sy.insights", consumer group "sy-analytics"), stores them in
// ClickHouse (or, for `make run`, in an embedded store under the data
// directory) and answers the query API under /api/analytics/v1/ used by the
// control plane and UI: evaluations per variation over time, users per
// variation, which users got which variation, experiment results (Welch's
// t-test, Bayesian probability to beat the baseline, sample-ratio-mismatch
// check) and GDPR deletion of one end user. The same handler serves
// /healthz, /readyz (cached background probes of ClickHouse and Kafka) and
// /metrics (Prometheus text format). See docs/analytics.md.
//
// Layout: internal/consume (Kafka → column buffers, at-least-once),
// internal/chstore (ClickHouse schema, columnar insert, SQL queries; the table
// columns are listed in its package doc), internal/embedded (the embedded
// store), internal/store (the Store interface both implement, and its
// conformance suite), internal/stats (pure statistics), internal/metrics
// (Prometheus text exposition).
//
// A Service is built by New, started by Start and stopped by Shutdown; its
// Handler and Ingest are safe for concurrent use once New returned.
package analytics
