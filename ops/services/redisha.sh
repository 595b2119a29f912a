#!/usr/bin/env bash
# Redis with Sentinel for the failover test: Debian's redis-server as a primary and one replica
# (nodes 1 and 2 on 127.0.0.1:SY_REDIS_HA_PORT and +1, default 16380/16381) and three sentinels
# (redis-server --sentinel on 127.0.0.1:SY_REDIS_SENTINEL_PORT..+2, default 26380..26382) monitoring
# them as master set "sy" (quorum 2, down-after 2 s, failover-timeout 10 s). No persistence: a
# restarted node comes back empty and the sentinels make it a replica of the current primary,
# which it fully resyncs. The node and sentinel configs are written once and then belong to
# Redis (sentinels and failovers rewrite them), so the roles survive stop/start.
# Usage: redisha.sh start|stop|status|restart [ID]   (no ID: all; ID 1|2: that data node)
#        redisha.sh kill ID                          (SIGKILL data node ID: the failover test)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SY_SVC=redisha
DIR="$SY_SERVICES_DIR/redisha"
HA_PORT="${SY_REDIS_HA_PORT:-16380}"
SENT_PORT="${SY_REDIS_SENTINEL_PORT:-26380}"
MASTER=sy
# redis-server rewrites its command line ("redis-server 127.0.0.1:PORT [sentinel]"); the pid file
# names the process, the match only guards against a recycled pid.
MATCH="redis-server"

# unit_vars KIND I sets NAME, UDIR, CONF, PORT of data node ("node") or sentinel ("sentinel") I.
unit_vars() {
	NAME="redisha-$1-$2" UDIR="$DIR/$1-$2" CONF="$DIR/$1-$2/redis.conf"
	if [ "$1" = node ]; then PORT=$((HA_PORT + $2 - 1)); else PORT=$((SENT_PORT + $2 - 1)); fi
}

units() {
	if [ $# -eq 0 ] || [ -z "$1" ]; then
		echo node:1 node:2 sentinel:1 sentinel:2 sentinel:3
		return
	fi
	case "$1" in 1 | 2) echo "node:$1" ;; *) sy_die "node id must be 1 or 2, got '$1'" ;; esac
}

ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

svc_status() {
	local u rc=0 pid
	for u in $(units "$@"); do
		unit_vars "${u%%:*}" "${u##*:}"
		if pid="$(sy_pid "$NAME" "$MATCH")"; then
			echo "$NAME running pid $pid addr 127.0.0.1:$PORT"
		else
			echo "$NAME stopped"
			rc=1
		fi
	done
	if [ "$rc" -eq 0 ] && [ $# -eq 0 ]; then
		echo "redisha running master set $MASTER, primary $(redis-cli -p "$SENT_PORT" sentinel get-master-addr-by-name "$MASTER" 2>/dev/null | paste -sd:), sentinels 127.0.0.1:$SENT_PORT..$((SENT_PORT + 2))"
	fi
	return "$rc"
}

write_config() {
	mkdir -p "$UDIR"
	[ -s "$CONF" ] && return 0
	if [ "$1" = node ]; then
		{
			echo "# written once by ops/services/redisha.sh; Redis/Sentinel rewrite it (roles after failover)"
			echo "bind 127.0.0.1"
			echo "port $PORT"
			echo "daemonize no"
			echo "dir $UDIR"
			echo 'save ""'
			echo "appendonly no"
			echo "protected-mode yes"
			echo "maxclients 10000"
			[ "$2" -eq 1 ] || echo "replicaof 127.0.0.1 $HA_PORT"
		} >"$CONF"
	else
		cat >"$CONF" <<CONF
# written once by ops/services/redisha.sh; the sentinel rewrites it with what it learns
bind 127.0.0.1
port $PORT
daemonize no
dir $UDIR
sentinel resolve-hostnames no
sentinel monitor $MASTER 127.0.0.1 $HA_PORT 2
sentinel down-after-milliseconds $MASTER 2000
sentinel failover-timeout $MASTER 10000
sentinel parallel-syncs $MASTER 1
CONF
	fi
}

svc_start() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null || sy_apt_install redis-server redis-tools
	local u kind i started=()
	for u in $(units "$@"); do
		kind="${u%%:*}" i="${u##*:}"
		unit_vars "$kind" "$i"
		sy_pid "$NAME" "$MATCH" >/dev/null && continue
		sy_port_free "$PORT" || sy_die "port $PORT is taken by a process this script did not start"
		write_config "$kind" "$i"
		if [ "$kind" = node ]; then
			sy_spawn "$NAME" redis-server "$CONF"
		else
			sy_spawn "$NAME" redis-server "$CONF" --sentinel
		fi
		started+=("$u")
	done
	for u in $(units "$@"); do
		unit_vars "${u%%:*}" "${u##*:}"
		sy_wait "$NAME ping" 30 "$NAME" "$MATCH" ping "$PORT"
	done
	sy_log "ready${started[*]:+ (started ${started[*]})}"
	sy_settle svc_status "$@"
}

svc_stop() {
	local u
	for u in $(units "$@"); do
		unit_vars "${u%%:*}" "${u##*:}"
		SY_SVC="$NAME" sy_stop "$NAME" "$MATCH" 20
	done
}

# svc_kill ID: SIGKILL of data node ID. `start ID` brings it back (empty; it resyncs as a replica).
svc_kill() {
	[ $# -eq 1 ] || sy_die "usage: redisha.sh kill ID"
	local pid j
	unit_vars node "$(units "$1" | cut -d: -f2)"
	if ! pid="$(sy_pid "$NAME" "$MATCH")"; then
		sy_log "$NAME not running"
		return 0
	fi
	sy_log "SIGKILL $NAME pid $pid"
	kill -KILL "$pid"
	for j in $(seq 1 100); do
		sy_pid "$NAME" "$MATCH" >/dev/null || break
		sleep 0.05
	done
	rm -f "$SY_RUN_DIR/$NAME.pid"
}

sy_main "$@"
