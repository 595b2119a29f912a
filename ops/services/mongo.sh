#!/usr/bin/env bash
# MongoDB wire protocol for integration tests: FerretDB v1 (SQLite backend) embedded in our own
# small main (ops/ferretdb, its own Go module), built once per machine into
# $SY_CACHE_DIR/ferretdb/<hash of go.mod+go.sum+*.go>/ferretdb and served on
# 127.0.0.1:${SY_MONGO_PORT:-27018}; SQLite files in .services/mongo/data, kept across stop/start.
# Usage: mongo.sh start|stop|status|restart
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SY_SVC=mongo
SRC="$SY_REPO/ops/ferretdb"
DIR="$SY_SERVICES_DIR/mongo"
MATCH="-listen 127.0.0.1:$SY_MONGO_PORT"
HASH="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC"/*.go | sha256sum | cut -c1-16)"
BIN="$SY_CACHE_DIR/ferretdb/$HASH/ferretdb"

svc_status() {
	if pid="$(sy_pid mongo "$MATCH")"; then
		echo "mongo (ferretdb) running pid $pid uri mongodb://127.0.0.1:$SY_MONGO_PORT/"
	else
		echo "mongo (ferretdb) stopped"
		return 1
	fi
}

ready() { sy_tcp_open 127.0.0.1 "$SY_MONGO_PORT"; }

ensure_bin() {
	[ -x "$BIN" ] && return 0
	(
		flock 8
		[ -x "$BIN" ] && exit 0
		export PATH="$PATH:/usr/local/go/bin"
		command -v go >/dev/null || sy_die "go not found (needed once to build ops/ferretdb)"
		sy_log "building ops/ferretdb into $BIN (once per machine; a cold build takes minutes)"
		mkdir -p "$(dirname "$BIN")"
		(cd "$SRC" && GOWORK=off GOFLAGS=-buildvcs=false nice -n 10 go build -trimpath -o "$BIN.tmp.$$" .) >&2
		mv "$BIN.tmp.$$" "$BIN"
	) 8>"$SY_CACHE_DIR/ferretdb.lock"
}

svc_start() {
	if sy_pid mongo "$MATCH" >/dev/null; then
		ready || sy_wait "ferretdb listen" 60 mongo "$MATCH" ready
		svc_status
		return 0
	fi
	ensure_bin
	sy_port_free "$SY_MONGO_PORT" || sy_die "port $SY_MONGO_PORT is taken by a process this script did not start"
	mkdir -p "$DIR/data"
	sy_spawn mongo "$BIN" -listen "127.0.0.1:$SY_MONGO_PORT" -dir "$DIR/data"
	sy_wait "ferretdb listen" 60 mongo "$MATCH" ready
	sy_log "ready on mongodb://127.0.0.1:$SY_MONGO_PORT/"
	sy_settle svc_status
}

svc_stop() { sy_stop mongo "$MATCH" 20; }

sy_main "$@"
