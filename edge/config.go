package edge

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseConfig reads the edge's configuration from command-line flags and
// SY_EDGE_* environment variables (getenv, usually os.Getenv); a flag given
// on the command line wins over its variable, which wins over the default.
//
//	flag                 variable                  default
//	-addr                SY_EDGE_ADDR              :5100
//	-http-addr           SY_EDGE_HTTP_ADDR         "" (HTTP endpoints on -addr only)
//	-redis               SY_EDGE_REDIS_ADDR        "" (embedded source)
//	-redis-sentinel-master SY_EDGE_REDIS_SENTINEL_MASTER "" (-redis is the Redis server)
//	-kafka               SY_EDGE_KAFKA_BROKERS     "" (comma-separated)
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
//	-relay-upstream      SY_EDGE_RELAY_UPSTREAM    "" (relay mode: the upstream edge's URL)
//	-relay-secrets       SY_EDGE_RELAY_SECRETS     "" (server secrets, one per relayed environment)
//	-relay-client-secrets SY_EDGE_RELAY_CLIENT_SECRETS ""
//	-relay-buffer-dir    SY_EDGE_RELAY_BUFFER_DIR  relay-buffer
//	-relay-buffer-bytes  SY_EDGE_RELAY_BUFFER_BYTES 268435456
//	-relay-max-message-bytes SY_EDGE_RELAY_MAX_MESSAGE_BYTES 67108864
//	-probe-interval      SY_EDGE_PROBE_INTERVAL    500ms (readiness probes of Redis, Kafka, the upstream)
//	-probe-timeout       SY_EDGE_PROBE_TIMEOUT     1s
func ParseConfig(name string, args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	env := func(k, def string) string {
		if v := getenv("SY_EDGE_" + k); v != "" {
			return v
		}
		return def
	}
	var errs []string
	dur := func(k, def string) time.Duration {
		d, err := time.ParseDuration(env(k, def))
		if err != nil {
			errs = append(errs, fmt.Sprintf("SY_EDGE_%s: %v", k, err))
		}
		return d
	}
	num := func(k, def string) int {
		n, err := strconv.Atoi(env(k, def))
		if err != nil {
			errs = append(errs, fmt.Sprintf("SY_EDGE_%s: %v", k, err))
		}
		return n
	}
	flt := func(k, def string) float64 {
		f, err := strconv.ParseFloat(env(k, def), 64)
		if err != nil {
			errs = append(errs, fmt.Sprintf("SY_EDGE_%s: %v", k, err))
		}
		return f
	}
	var brokers string
	fs.StringVar(&c.Addr, "addr", env("ADDR", ":5100"), "listen address for streaming and HTTP")
	fs.StringVar(&c.HTTPAddr, "http-addr", env("HTTP_ADDR", ""), "optional second listener for the HTTP endpoints only, on Go's poller (cheaper per request)")
	fs.StringVar(&c.RedisAddr, "redis", env("REDIS_ADDR", ""), "Redis address of the snapshots (production source; needs -kafka); with -redis-sentinel-master, comma-separated Redis Sentinel addresses")
	fs.StringVar(&c.RedisSentinelMaster, "redis-sentinel-master", env("REDIS_SENTINEL_MASTER", ""), "Redis Sentinel master set name: -redis lists the sentinels and the primary they name is used (followed across a failover); empty: -redis is the Redis server")
	fs.StringVar(&brokers, "kafka", env("KAFKA_BROKERS", ""), "comma-separated Kafka brokers (change topic, event sink)")
	fs.StringVar(&c.TopicPrefix, "topic-prefix", env("TOPIC_PREFIX", ""), "prefix of the Kafka topic names")
	fs.DurationVar(&c.PartitionCheck, "partition-check", dur("PARTITION_CHECK", "30s"), "how often to look for partitions added to the change topic")
	fs.DurationVar(&c.TokenWindow, "token-window", dur("TOKEN_WINDOW", "30s"), "allowed clock difference of a connection token")
	fs.DurationVar(&c.HandshakeTimeout, "handshake-timeout", dur("HANDSHAKE_TIMEOUT", "10s"), "time allowed for the HTTP upgrade request")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", dur("IDLE_TIMEOUT", "5m"), "close streaming connections silent for this long")
	fs.DurationVar(&c.HTTPIdleTimeout, "http-idle-timeout", dur("HTTP_IDLE_TIMEOUT", "2m"), "close HTTP keep-alive connections silent for this long")
	fs.DurationVar(&c.CloseTimeout, "close-timeout", dur("CLOSE_TIMEOUT", "1s"), "wait for the client's close frame after ours")
	fs.DurationVar(&c.FrameTimeout, "frame-timeout", dur("FRAME_TIMEOUT", "10s"), "time allowed for a started frame to complete")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", dur("WRITE_TIMEOUT", "10s"), "time allowed for a blocked write")
	fs.IntVar(&c.MaxMessageBytes, "max-message-bytes", num("MAX_MESSAGE_BYTES", "65536"), "largest accepted frame or message (else close 1009)")
	fs.BoolVar(&c.ReusePort, "reuseport", env("REUSEPORT", "false") == "true", "set SO_REUSEPORT so several edge processes share -addr")
	fs.IntVar(&c.ShutdownCode, "shutdown-code", num("SHUTDOWN_CODE", "1012"), "close code on shutdown: 1001 or 1012")
	fs.DurationVar(&c.DrainWindow, "drain-window", dur("DRAIN_WINDOW", "10s"), "on shutdown, spread the closes of streaming connections over this long (negative: all at once)")
	if err := c.LogLevel.UnmarshalText([]byte(env("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Sprintf("SY_EDGE_LOG_LEVEL: %v", err))
	}
	fs.Func("log-level", "log level: debug, info, warn or error; debug logs one line per pushed change with its request id (env SY_EDGE_LOG_LEVEL; default info)", func(v string) error {
		return c.LogLevel.UnmarshalText([]byte(v))
	})
	fs.IntVar(&c.BufferSize, "buffer-size", num("BUFFER_SIZE", "256"), "netpoll initial input buffer per connection (bytes)")
	fs.IntVar(&c.NodeCap, "node-cap", num("NODE_CAP", "64"), "netpoll minimum link-buffer node size (bytes)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", dur("REQUEST_TIMEOUT", "10s"), "time allowed for a whole HTTP request (header and body) from its first byte")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", num("MAX_HEADER_BYTES", "8192"), "largest HTTP request header (else 431)")
	fs.IntVar(&c.MaxBodyBytes, "max-body-bytes", num("MAX_BODY_BYTES", "65536"), "largest HTTP request body except track: OFREP, client polling, evaluate (else 413)")
	fs.IntVar(&c.MaxTrackBytes, "max-track-bytes", num("MAX_TRACK_BYTES", "1048576"), "largest track request body (else 413)")
	fs.IntVar(&c.MaxUnfinished, "max-unfinished", num("MAX_UNFINISHED", "128"), "per client address: connections in a handshake or a still-arriving HTTP request (-1: no cap)")
	fs.Float64Var(&c.AddrRate, "addr-rate", flt("ADDR_RATE", "1000"), "public HTTP requests and WebSocket upgrades per second per client address (-1: off)")
	fs.IntVar(&c.AddrBurst, "addr-burst", num("ADDR_BURST", "2000"), "burst of -addr-rate")
	fs.Float64Var(&c.SecretRate, "secret-rate", flt("SECRET_RATE", "20000"), "public HTTP requests per second per SDK secret (-1: off)")
	fs.IntVar(&c.SecretBurst, "secret-burst", num("SECRET_BURST", "40000"), "burst of -secret-rate")
	fs.IntVar(&c.MaxTrackUsers, "max-track-users", num("MAX_TRACK_USERS", "100"), "distinct end users in one track request sent with a client secret (else 400)")
	fs.Float64Var(&c.EndUserRate, "enduser-rate", flt("ENDUSER_RATE", "1000"), "new end users forwarded per second per environment (-1: off)")
	fs.IntVar(&c.EndUserBurst, "enduser-burst", num("ENDUSER_BURST", "10000"), "burst of -enduser-rate")
	fs.DurationVar(&c.DeliveryInterval, "delivery-interval", dur("DELIVERY_INTERVAL", "5s"), "period of the delivery heartbeat to control (connection census for delivery receipts and the live SDK view; negative: no delivery reports)")
	fs.DurationVar(&c.OFREPMinPoll, "ofrep-min-poll", dur("OFREP_MIN_POLL", "5s"), "shortest bulk polling interval OFREP's configuration endpoint asks providers to use")
	var relaySecrets, relayClientSecrets string
	fs.StringVar(&c.RelayUpstream, "relay-upstream", env("RELAY_UPSTREAM", ""), "relay mode: URL (http(s):// or ws(s)://host:port) of the upstream edge the environments come from and events go to, instead of -redis and -kafka")
	fs.StringVar(&relaySecrets, "relay-secrets", env("RELAY_SECRETS", ""), "relay mode: comma-separated server secrets, one per relayed environment (prefer the variable: flags show in ps)")
	fs.StringVar(&relayClientSecrets, "relay-client-secrets", env("RELAY_CLIENT_SECRETS", ""), "relay mode: comma-separated client secrets of the relayed environments that the relay's client SDKs use")
	fs.StringVar(&c.RelayBufferDir, "relay-buffer-dir", env("RELAY_BUFFER_DIR", "relay-buffer"), "relay mode: directory of the event buffer kept while the upstream is unreachable")
	var relayBuf, relayMsg int
	fs.IntVar(&relayBuf, "relay-buffer-bytes", num("RELAY_BUFFER_BYTES", "268435456"), "relay mode: cap of the event buffer; beyond it the oldest batches are dropped and counted")
	fs.IntVar(&relayMsg, "relay-max-message-bytes", num("RELAY_MAX_MESSAGE_BYTES", "67108864"), "relay mode: largest message accepted from the upstream (a full sync)")
	fs.DurationVar(&c.ProbeInterval, "probe-interval", dur("PROBE_INTERVAL", "500ms"), "how often /readyz's dependencies (Redis, Kafka, a relay's upstream) are probed in the background")
	fs.DurationVar(&c.ProbeTimeout, "probe-timeout", dur("PROBE_TIMEOUT", "1s"), "bound of one readiness probe; /readyz turns unready within -probe-interval plus this of a dependency dying")
	if len(errs) > 0 {
		return c, fmt.Errorf("edge: %s", strings.Join(errs, "; "))
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.KafkaBrokers = append(c.KafkaBrokers, b)
		}
	}
	c.RelaySecrets, c.RelayClientSecrets = splitList(relaySecrets), splitList(relayClientSecrets)
	if relayBuf < 0 || relayMsg < 0 {
		return c, errors.New("edge: -relay-buffer-bytes and -relay-max-message-bytes must not be negative")
	}
	c.RelayBufferBytes, c.RelayMaxMessageBytes = int64(relayBuf), int64(relayMsg)
	c.defaults()
	return c, c.validate()
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
