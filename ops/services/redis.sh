#!/usr/bin/env bash
# Redis for integration tests: Debian's redis-server on 127.0.0.1:${SY_REDIS_PORT:-16379},
# no periodic persistence, but a stop (SIGTERM) saves dump.rdb in .services/redis so data survives
# stop/start (not a SIGKILL). Usage: redis.sh start|stop|status|restart
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SY_SVC=redis
DIR="$SY_SERVICES_DIR/redis"
# redis-server rewrites its command line to "redis-server 127.0.0.1:PORT" once it runs; before that
# it is "redis-server --daemonize no … --port PORT …". The pid file names the process; the match
# only guards against a recycled pid, so it must hold in both forms.
MATCH="redis-server"

svc_status() {
	if pid="$(sy_pid redis "$MATCH")"; then
		echo "redis running pid $pid addr 127.0.0.1:$SY_REDIS_PORT"
	else
		echo "redis stopped"
		return 1
	fi
}

ready() { [ "$(redis-cli -h 127.0.0.1 -p "$SY_REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

svc_start() {
	if sy_pid redis "$MATCH" >/dev/null; then
		ready || sy_wait "redis ping" 30 redis "$MATCH" ready
		svc_status
		return 0
	fi
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null || sy_apt_install redis-server redis-tools
	sy_port_free "$SY_REDIS_PORT" || sy_die "port $SY_REDIS_PORT is taken by a process this script did not start"
	mkdir -p "$DIR"
	# --daemonize no: sy_spawn detaches it and records the pid itself.
	sy_spawn redis redis-server --daemonize no --bind 127.0.0.1 --port "$SY_REDIS_PORT" \
		--save '' --shutdown-on-sigterm 'save force' --appendonly no --dir "$DIR" \
		--protected-mode yes --maxclients 10000
	sy_wait "redis ping" 30 redis "$MATCH" ready
	sy_log "ready on 127.0.0.1:$SY_REDIS_PORT"
	sy_settle svc_status
}

svc_stop() { sy_stop redis "$MATCH" 20; }

sy_main "$@"
