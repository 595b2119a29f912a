// Package edge is Switchyard's evaluation server: a FeatBit-compatible
// streaming endpoint (/streaming, WebSocket on netpoll event loops, no
// goroutine per connection), FeatBit's public SDK HTTP API, OFREP
// evaluation, health checks and Prometheus metrics, all on one port.
//
// Use New with a Config and Options (WithSource, WithEventSink), then Start
// (non-blocking) and Shutdown. Flags come from a Source: the production
// source (Redis hash "sy:env:{envId}" + Kafka change topic, selected
// when Config.RedisAddr and Config.KafkaBrokers are set) or a LocalSource fed
// in-process by the control plane (`make run`). Events (insights, end users)
// go to an EventSink: Kafka in production when KafkaBrokers is set.
//
// Package layout (all private): internal/wsconn (transport), internal/hub
// (environments, sessions, protocol, fan-out), internal/envstate
// (copy-on-write environment state and encodings), internal/source,
// internal/sink, internal/httpapi, internal/ofrep, internal/metrics. The
// lock order is in LOCKS.md; docs/edge.md has the operator's view.
package edge
