package edge

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/config"
)

// ParseConfig reads the edge's configuration from command-line flags,
// SY_EDGE_* environment variables (getenv, usually os.Getenv) and the
// optional -config file (package internal/config: a flag wins over its
// variable, which wins over the file, which wins over the default); -h
// prints the settings to stdout and returns config.ErrHelp.
//
//	flag                 variable                  default
//	-config              SY_EDGE_CONFIG            "" (no file)
//	-addr                SY_EDGE_ADDR              :5100
//	-http-addr           SY_EDGE_HTTP_ADDR         "" (HTTP endpoints on -addr only)
//	-redis-addr          SY_EDGE_REDIS_ADDR        "" (embedded source; alias -redis)
//	-redis-sentinel-master SY_EDGE_REDIS_SENTINEL_MASTER "" (-redis-addr is the Redis server)
//	-kafka-brokers       SY_EDGE_KAFKA_BROKERS     "" (comma-separated; alias -kafka)
//	-relay-upstream      SY_EDGE_RELAY_UPSTREAM    "" (relay mode: the upstream edge's URL)
//	-relay-secrets       SY_EDGE_RELAY_SECRETS     "" (server secrets, one per relayed environment)
//	-relay-client-secrets SY_EDGE_RELAY_CLIENT_SECRETS ""
//	-relay-buffer-dir    SY_EDGE_RELAY_BUFFER_DIR  relay-buffer
//	-relay-buffer-bytes  SY_EDGE_RELAY_BUFFER_BYTES 268435456
//	-relay-max-message-bytes SY_EDGE_RELAY_MAX_MESSAGE_BYTES 67108864
//	-probe-interval      SY_EDGE_PROBE_INTERVAL    500ms (readiness probes of Redis, Kafka, the upstream)
//	-probe-timeout       SY_EDGE_PROBE_TIMEOUT     1s
//	-topic-prefix        SY_EDGE_TOPIC_PREFIX      ""
//	-partition-check     SY_EDGE_PARTITION_CHECK   30s
//	-delivery-interval   SY_EDGE_DELIVERY_INTERVAL 5s (negative: no delivery reports)
//	-token-window        SY_EDGE_TOKEN_WINDOW      30s
//	-handshake-timeout   SY_EDGE_HANDSHAKE_TIMEOUT 10s
//	-idle-timeout        SY_EDGE_IDLE_TIMEOUT      5m
//	-http-idle-timeout   SY_EDGE_HTTP_IDLE_TIMEOUT 2m
//	-close-timeout       SY_EDGE_CLOSE_TIMEOUT     1s
//	-frame-timeout       SY_EDGE_FRAME_TIMEOUT     10s
//	-write-timeout       SY_EDGE_WRITE_TIMEOUT     10s
//	-max-message-bytes   SY_EDGE_MAX_MESSAGE_BYTES 65536
//	-reuseport           SY_EDGE_REUSEPORT         false
//	-shutdown-code       SY_EDGE_SHUTDOWN_CODE     1012
//	-drain-window        SY_EDGE_DRAIN_WINDOW      10s (-1s: all at once)
//	-log-level           SY_EDGE_LOG_LEVEL         info (debug: a line per pushed change)
//	-buffer-size         SY_EDGE_BUFFER_SIZE       256
//	-node-cap            SY_EDGE_NODE_CAP          64
//	-request-timeout     SY_EDGE_REQUEST_TIMEOUT   10s
//	-max-header-bytes    SY_EDGE_MAX_HEADER_BYTES  8192
//	-max-body-bytes      SY_EDGE_MAX_BODY_BYTES    65536
//	-max-track-bytes     SY_EDGE_MAX_TRACK_BYTES   1048576
//	-max-unfinished      SY_EDGE_MAX_UNFINISHED    128 (-1: no cap)
//	-addr-rate           SY_EDGE_ADDR_RATE         1000 (-1: off)
//	-addr-burst          SY_EDGE_ADDR_BURST        2000
//	-secret-rate         SY_EDGE_SECRET_RATE       20000 (-1: off)
//	-secret-burst        SY_EDGE_SECRET_BURST      40000
//	-max-track-users     SY_EDGE_MAX_TRACK_USERS   100
//	-enduser-rate        SY_EDGE_ENDUSER_RATE      1000 (-1: off)
//	-enduser-burst       SY_EDGE_ENDUSER_BURST     10000
//	-ofrep-min-poll      SY_EDGE_OFREP_MIN_POLL    5s
func ParseConfig(name string, args []string, getenv func(string) string) (Config, error) {
	return LoadConfig(name, args, getenv, os.Stdout)
}

// LoadConfig is ParseConfig printing -h's usage to out.
func LoadConfig(name string, args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	s := ConfigSet(name, &c)
	if err := s.Parse(args, getenv, out); err != nil {
		return c, err
	}
	if len(s.Args()) > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(s.Args(), " "))
	}
	if c.RelayBufferBytes < 0 || c.RelayMaxMessageBytes < 0 {
		return c, errors.New("edge: -relay-buffer-bytes and -relay-max-message-bytes must not be negative")
	}
	c.defaults()
	return c, c.validate()
}

// ConfigSet declares the edge's settings into c (the table above); the
// all-in-one binary and the load harness reuse some of them.
func ConfigSet(name string, c *Config) *config.Set {
	s := config.New(name, "SY_EDGE_")
	s.String(&c.Addr, "addr", ":5100", "listen address for streaming and HTTP")
	s.String(&c.HTTPAddr, "http-addr", "", "optional second listener for the HTTP endpoints only, on Go's poller (cheaper per request)")
	s.String(&c.RedisAddr, "redis-addr", "", "Redis address of the snapshots (production source; needs -kafka-brokers); with -redis-sentinel-master, comma-separated Redis Sentinel addresses").Alias("redis")
	s.String(&c.RedisSentinelMaster, "redis-sentinel-master", "", "Redis Sentinel master set name: -redis-addr lists the sentinels and the primary they name is used (followed across a failover); empty: -redis-addr is the Redis server")
	s.List(&c.KafkaBrokers, "kafka-brokers", "", "comma-separated Kafka brokers (change topic, event sink)").Alias("kafka")
	s.String(&c.TopicPrefix, "topic-prefix", "", "prefix of the Kafka topic names")
	s.Duration(&c.PartitionCheck, "partition-check", 30*time.Second, "how often to look for partitions added to the change topic")
	s.Duration(&c.DeliveryInterval, "delivery-interval", 5*time.Second, "period of the delivery heartbeat to control (connection census for delivery receipts and the live SDK view; negative: no delivery reports)")
	s.Duration(&c.TokenWindow, "token-window", 30*time.Second, "allowed clock difference of a connection token")
	s.Duration(&c.HandshakeTimeout, "handshake-timeout", 10*time.Second, "time allowed for the HTTP upgrade request")
	s.Duration(&c.IdleTimeout, "idle-timeout", 5*time.Minute, "close streaming connections silent for this long")
	s.Duration(&c.HTTPIdleTimeout, "http-idle-timeout", 2*time.Minute, "close HTTP keep-alive connections silent for this long")
	s.Duration(&c.CloseTimeout, "close-timeout", time.Second, "wait for the client's close frame after ours")
	s.Duration(&c.FrameTimeout, "frame-timeout", 10*time.Second, "time allowed for a started frame to complete")
	s.Duration(&c.WriteTimeout, "write-timeout", 10*time.Second, "time allowed for a blocked write")
	s.Int(&c.MaxMessageBytes, "max-message-bytes", 65536, "largest accepted frame or message (else close 1009)")
	s.Bool(&c.ReusePort, "reuseport", false, "set SO_REUSEPORT so several edge processes share -addr")
	s.Int(&c.ShutdownCode, "shutdown-code", 1012, "close code on shutdown: 1001 or 1012")
	s.Duration(&c.DrainWindow, "drain-window", 10*time.Second, "on shutdown, spread the closes of streaming connections over this long (negative: all at once)")
	s.Var("log-level", "info", "log level: debug, info, warn or error; debug logs one line per pushed change with its request id", func(v string) error {
		return c.LogLevel.UnmarshalText([]byte(v))
	})
	s.Int(&c.BufferSize, "buffer-size", 256, "netpoll initial input buffer per connection (bytes)")
	s.Int(&c.NodeCap, "node-cap", 64, "netpoll minimum link-buffer node size (bytes)")
	s.Duration(&c.RequestTimeout, "request-timeout", 10*time.Second, "time allowed for a whole HTTP request (header and body) from its first byte")
	s.Int(&c.MaxHeaderBytes, "max-header-bytes", 8192, "largest HTTP request header (else 431)")
	s.Int(&c.MaxBodyBytes, "max-body-bytes", 65536, "largest HTTP request body except track: OFREP, client polling, evaluate (else 413)")
	s.Int(&c.MaxTrackBytes, "max-track-bytes", 1048576, "largest track request body (else 413)")
	s.Int(&c.MaxUnfinished, "max-unfinished", 128, "per client address: connections in a handshake or a still-arriving HTTP request (-1: no cap)")
	s.Float(&c.AddrRate, "addr-rate", 1000, "public HTTP requests and WebSocket upgrades per second per client address (-1: off)")
	s.Int(&c.AddrBurst, "addr-burst", 2000, "burst of -addr-rate")
	s.Float(&c.SecretRate, "secret-rate", 20000, "public HTTP requests per second per SDK secret (-1: off)")
	s.Int(&c.SecretBurst, "secret-burst", 40000, "burst of -secret-rate")
	s.Int(&c.MaxTrackUsers, "max-track-users", 100, "distinct end users in one track request sent with a client secret (else 400)")
	s.Float(&c.EndUserRate, "enduser-rate", 1000, "new end users forwarded per second per environment (-1: off)")
	s.Int(&c.EndUserBurst, "enduser-burst", 10000, "burst of -enduser-rate")
	s.Duration(&c.OFREPMinPoll, "ofrep-min-poll", 5*time.Second, "shortest bulk polling interval OFREP's configuration endpoint asks providers to use")
	s.String(&c.RelayUpstream, "relay-upstream", "", "relay mode: URL (http(s):// or ws(s)://host:port) of the upstream edge the environments come from and events go to, instead of -redis-addr and -kafka-brokers")
	s.List(&c.RelaySecrets, "relay-secrets", "", "relay mode: comma-separated server secrets, one per relayed environment (prefer the variable: flags show in ps)")
	s.List(&c.RelayClientSecrets, "relay-client-secrets", "", "relay mode: comma-separated client secrets of the relayed environments that the relay's client SDKs use")
	s.String(&c.RelayBufferDir, "relay-buffer-dir", "relay-buffer", "relay mode: directory of the event buffer kept while the upstream is unreachable")
	s.Int64(&c.RelayBufferBytes, "relay-buffer-bytes", 268435456, "relay mode: cap of the event buffer; beyond it the oldest batches are dropped and counted")
	s.Int64(&c.RelayMaxMessageBytes, "relay-max-message-bytes", 67108864, "relay mode: largest message accepted from the upstream (a full sync)")
	s.Duration(&c.ProbeInterval, "probe-interval", 500*time.Millisecond, "how often /readyz's dependencies (Redis, Kafka, a relay's upstream) are probed in the background")
	s.Duration(&c.ProbeTimeout, "probe-timeout", time.Second, "bound of one readiness probe; /readyz turns unready within -probe-interval plus this of a dependency dying")
	return s
}
