#!/usr/bin/env bash
# Kafka for integration tests: the Apache Kafka broker (version pinned in kafka/pom.xml, resolved
# from Maven Central with the machine's Maven into $SY_CACHE_DIR/kafka/<pom hash>/libs) run with
# Java 17 as SY_KAFKA_BROKERS_N (default 3) KRaft nodes, each one JVM in combined mode
# (process.roles=broker,controller). Node i (1..N) listens for clients on 127.0.0.1:SY_KAFKA_PORT+i-1
# (default 19092..19094) and for the controller quorum on 127.0.0.1:SY_KAFKA_CONTROLLER_PORT+i-1
# (default 19095..19097). With 3 or more nodes topics default to replication factor 3 and
# min.insync.replicas 2. With SY_KAFKA_BROKERS_N=1: one node on 19092 (controller 19093), rf 1.
# Log dirs (.services/kafka/node-<i>/data, or .services/kafka/data for one node) are formatted once
# and kept across stop/start, except that up.sh's start of the whole stopped cluster (it sets
# SY_KAFKA_RESET_CROWDED=1) begins again from empty log dirs when a node holds more than
# SY_KAFKA_MAX_PARTITIONS (default 1000) partitions: every test run creates its own topics (~600
# partitions per node for `make test`), and at ~2,800 a node's 384 MB heap ran out (OutOfMemoryError,
# the brokers died mid-run). The data is the tests' only. A plain `kafka.sh start` never empties them:
# the outage tests stop and start the cluster under a running test, whose topics must survive.
# Usage: kafka.sh start|stop|status|restart [ID]   (no ID: every node; ID: only node ID)
#        kafka.sh kill ID                          (SIGKILL node ID: the leader-kill outage tests)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SY_SVC=kafka
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="$SY_SERVICES_DIR/kafka"
POM="$HERE/kafka/pom.xml"
LIBS="$SY_CACHE_DIR/kafka/$(sha256sum "$POM" | cut -c1-16)/libs"
N="$SY_KAFKA_BROKERS_N"
case "$N" in [1-9]) ;; *) sy_die "SY_KAFKA_BROKERS_N must be 1..9, got '$N'" ;; esac
if [ "$SY_KAFKA_CONTROLLER_PORT" -lt $((SY_KAFKA_PORT + N)) ] && [ $((SY_KAFKA_CONTROLLER_PORT + N)) -gt "$SY_KAFKA_PORT" ]; then
	sy_die "controller ports $SY_KAFKA_CONTROLLER_PORT..+$((N - 1)) overlap broker ports $SY_KAFKA_PORT..+$((N - 1)): unset SY_KAFKA_CONTROLLER_PORT (default SY_KAFKA_PORT+SY_KAFKA_BROKERS_N)"
fi
if [ "$N" -ge 3 ]; then RF=3 MINISR=2; else RF=$N MINISR=1; fi
# a cluster node's heap is smaller: three JVMs share the machine with the other services
if [ "$N" -eq 1 ]; then HEAP="${SY_KAFKA_HEAP:--Xms256m -Xmx512m}"; else HEAP="${SY_KAFKA_HEAP:--Xms128m -Xmx384m}"; fi

# node_vars I sets NAME (pid/log file name), NDIR, PROPS, MATCH, BPORT, CPORT of node I.
node_vars() {
	local i="$1"
	BPORT=$((SY_KAFKA_PORT + i - 1)) CPORT=$((SY_KAFKA_CONTROLLER_PORT + i - 1))
	if [ "$N" -eq 1 ]; then
		NAME=kafka NDIR="$DIR"
	else
		NAME="kafka-$i" NDIR="$DIR/node-$i"
	fi
	PROPS="$NDIR/server.properties"
	MATCH="kafka.Kafka $PROPS"
}

# ids [ID] prints the node ids to act on (all, or the one given, checked).
ids() {
	if [ $# -eq 0 ] || [ -z "$1" ]; then
		seq 1 "$N"
		return
	fi
	case "$1" in [1-9]) [ "$1" -le "$N" ] && echo "$1" && return ;; esac
	sy_die "node id must be 1..$N (SY_KAFKA_BROKERS_N), got '$1'"
}

brokers() {
	local i out=""
	for i in $(seq 1 "$N"); do out="$out${out:+,}127.0.0.1:$((SY_KAFKA_PORT + i - 1))"; done
	echo "$out"
}

svc_status() {
	local i rc=0 pid
	for i in $(ids "$@"); do
		node_vars "$i"
		if pid="$(sy_pid "$NAME" "$MATCH")"; then
			echo "$NAME running pid $pid broker 127.0.0.1:$BPORT"
		else
			echo "$NAME stopped"
			rc=1
		fi
	done
	[ "$rc" -eq 0 ] && [ $# -eq 0 ] && echo "kafka running brokers $(brokers)"
	return "$rc"
}

# ready PORT sends a Kafka ApiVersions v0 request and expects correlation id 1 and error code 0:
# the broker's acceptors open only once the KRaft node has finished starting.
ready() {
	local got
	got="$(timeout 3 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
		printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00" >&3
		head -c 10 <&3 | od -An -tx1
	' "$1" 2>/dev/null | tr -d ' \n')" || return 1
	[ "${got:8:12}" = 000000010000 ]
}

ensure_java() {
	local v
	v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)" || true
	if [ -z "$v" ] || [ "$v" -lt 17 ]; then
		sy_apt_install openjdk-17-jre-headless
	fi
}

ensure_libs() {
	[ -f "$LIBS/.complete" ] && return 0
	(
		flock 8
		[ -f "$LIBS/.complete" ] && exit 0
		command -v mvn >/dev/null || sy_apt_install maven
		sy_log "resolving the broker from Maven Central into $LIBS (once per machine)"
		local tmp="$LIBS.tmp.$$"
		rm -rf "$tmp"
		mkdir -p "$tmp"
		nice mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
			-DoutputDirectory="$tmp" >&2
		ls "$tmp"/kafka_2.13-*.jar >/dev/null
		rm -rf "$LIBS"
		mv "$tmp" "$LIBS"
		touch "$LIBS/.complete"
	) 8>"$SY_CACHE_DIR/kafka.lock"
}

# write_config I writes node I's server.properties (and the shared log4j2.properties).
write_config() {
	node_vars "$1"
	mkdir -p "$NDIR/data"
	local quorum i voters=""
	if [ "$N" -eq 1 ]; then
		quorum="controller.quorum.bootstrap.servers=127.0.0.1:$CPORT"
	else
		# a static quorum: every node is a voter, known before the first start
		for i in $(seq 1 "$N"); do voters="$voters${voters:+,}$i@127.0.0.1:$((SY_KAFKA_CONTROLLER_PORT + i - 1))"; done
		quorum="controller.quorum.voters=$voters"
	fi
	cat >"$PROPS" <<PROPS
# generated by ops/services/kafka.sh on every start; edits are overwritten
process.roles=broker,controller
node.id=$1
$quorum
listeners=PLAINTEXT://127.0.0.1:$BPORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$BPORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$NDIR/data
num.partitions=3
default.replication.factor=$RF
min.insync.replicas=$MINISR
unclean.leader.election.enable=false
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=$RF
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$RF
transaction.state.log.min.isr=$MINISR
share.coordinator.state.topic.replication.factor=$RF
share.coordinator.state.topic.min.isr=$MINISR
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
PROPS
	cat >"$DIR/log4j2.properties" <<'PROPS'
# generated by ops/services/kafka.sh
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
PROPS
}

# shellcheck disable=SC2206
JAVA=(java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true -Dlog4j2.shutdownHookEnabled=false
	"-Dlog4j2.configurationFile=$DIR/log4j2.properties" -cp "$LIBS/*")

# cluster_id prints the cluster id all nodes are formatted with (created once, kept in the data dir).
cluster_id() {
	local f="$DIR/cluster.id"
	if [ ! -s "$f" ]; then
		mkdir -p "$DIR"
		head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' >"$f"
	fi
	cat "$f"
}

# spawn_node I formats node I's log dir if needed and starts it (no wait).
spawn_node() {
	node_vars "$1"
	sy_port_free "$BPORT" || sy_die "port $BPORT is taken by a process this script did not start"
	sy_port_free "$CPORT" || sy_die "port $CPORT is taken by a process this script did not start"
	write_config "$1"
	if [ ! -f "$NDIR/data/meta.properties" ]; then
		local id mode=()
		id="$(cluster_id)"
		[ "$N" -eq 1 ] && mode=(--standalone)
		sy_log "formatting storage of node $1 (cluster id $id)"
		"${JAVA[@]}" kafka.tools.StorageTool format "${mode[@]}" -t "$id" -c "$PROPS" \
			>>"$SY_LOG_DIR/$NAME.format.log" 2>&1 || {
			tail -n 30 "$SY_LOG_DIR/$NAME.format.log" >&2
			sy_die "storage format of node $1 failed"
		}
	fi
	sy_spawn "$NAME" "${JAVA[@]}" kafka.Kafka "$PROPS"
}

# stop_other_layout stops nodes of the other layout (one node vs. a cluster) that this data dir
# still runs, e.g. after SY_KAFKA_BROKERS_N changed: they hold the same ports.
stop_other_layout() {
	local f name pid bg=()
	# in parallel (see svc_stop)
	for f in "$SY_RUN_DIR"/kafka.pid "$SY_RUN_DIR"/kafka-[0-9].pid; do
		[ -e "$f" ] || continue
		name="$(basename "$f" .pid)"
		case "$name" in kafka) [ "$N" -eq 1 ] && continue ;; *) [ "$N" -gt 1 ] && [ "${name#kafka-}" -le "$N" ] && continue ;; esac
		if [ "$name" = kafka ]; then pid="$DIR/server.properties"; else pid="$DIR/node-${name#kafka-}/server.properties"; fi
		sy_log "stopping $name (not part of SY_KAFKA_BROKERS_N=$N)"
		SY_SVC="$name" sy_stop "$name" "kafka.Kafka $pid" 60 &
		bg+=($!)
	done
	for pid in "${bg[@]}"; do wait "$pid"; done
}

# reset_if_crowded empties every node's log dir (and the cluster id) when one holds more than
# SY_KAFKA_MAX_PARTITIONS partition directories; only called with the whole cluster stopped, from up.sh.
reset_if_crowded() {
	local i n max="${SY_KAFKA_MAX_PARTITIONS:-1000}"
	case "$max" in '' | *[!0-9]*) sy_die "SY_KAFKA_MAX_PARTITIONS must be a number, got '$max'" ;; esac
	for i in $(seq 1 "$N"); do
		node_vars "$i"
		[ -d "$NDIR/data" ] || continue
		n="$(find "$NDIR/data" -mindepth 1 -maxdepth 1 -type d -name '*-[0-9]*' | wc -l)"
		if [ "$n" -gt "$max" ]; then
			sy_log "node $i holds $n partitions (> SY_KAFKA_MAX_PARTITIONS=$max, left by earlier test runs): starting from empty log dirs"
			for i in $(seq 1 "$N"); do
				node_vars "$i"
				rm -rf "$NDIR/data"
			done
			rm -f "$DIR/cluster.id"
			return 0
		fi
	done
}

svc_start() {
	local i todo=()
	ensure_java
	ensure_libs
	[ $# -eq 0 ] && stop_other_layout
	for i in $(ids "$@"); do
		node_vars "$i"
		sy_pid "$NAME" "$MATCH" >/dev/null || todo+=("$i")
	done
	if [ $# -eq 0 ] && [ "${#todo[@]}" -eq "$N" ] && [ "${SY_KAFKA_RESET_CROWDED:-0}" = 1 ]; then reset_if_crowded; fi
	for i in "${todo[@]}"; do spawn_node "$i"; done
	# the nodes of a cluster start together: a broker opens its listener only once the quorum
	# has a leader, so waiting for each one before starting the next would deadlock
	for i in $(ids "$@"); do
		node_vars "$i"
		sy_wait "kafka node $i ApiVersions" 180 "$NAME" "$MATCH" ready "$BPORT"
	done
	sy_log "ready: $(brokers)"
	sy_settle svc_status "$@"
}

svc_stop() {
	local i pids=()
	# in parallel: a node stopping alone waits for the quorum to move its leaderships away
	for i in $(ids "$@"); do
		node_vars "$i"
		SY_SVC="$NAME" sy_stop "$NAME" "$MATCH" 60 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
}

# svc_kill ID: SIGKILL of node ID (no shutdown: the leader-kill tests). `start ID` brings it back.
svc_kill() {
	[ $# -eq 1 ] || sy_die "usage: kafka.sh kill ID"
	local pid
	node_vars "$(ids "$1")"
	if ! pid="$(sy_pid "$NAME" "$MATCH")"; then
		sy_log "$NAME not running"
		return 0
	fi
	sy_log "SIGKILL $NAME pid $pid"
	kill -KILL "$pid"
	local j
	for j in $(seq 1 100); do
		sy_pid "$NAME" "$MATCH" >/dev/null || break
		sleep 0.05
	done
	rm -f "$SY_RUN_DIR/$NAME.pid"
}

sy_main "$@"
