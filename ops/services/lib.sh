# Shared helpers for ops/services/*.sh (sourced, not executed).
#
# Layout:
#   $SY_SERVICES_DIR (default <repo>/.services, gitignored)
#       <name>/        data dir of one service (kept across stop/start)
#       run/<name>.pid pid file of the running service
#       log/<name>.log stdout/stderr of the service
#   $SY_CACHE_DIR (default $HOME/.cache/switchyard, outside the repo)
#       downloads and builds that survive fresh clones (Kafka jars, the FerretDB binary).

# shellcheck shell=bash
set -euo pipefail

SY_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SY_SERVICES_DIR="${SY_SERVICES_DIR:-$SY_REPO/.services}"
SY_CACHE_DIR="${SY_CACHE_DIR:-$HOME/.cache/switchyard}"
SY_RUN_DIR="$SY_SERVICES_DIR/run"
SY_LOG_DIR="$SY_SERVICES_DIR/log"

# Ports (override only if you also point the tests elsewhere, see docs/services.md).
SY_REDIS_PORT="${SY_REDIS_PORT:-16379}"
SY_KAFKA_PORT="${SY_KAFKA_PORT:-19092}"
# Kafka nodes (broker+controller each): 3 = a KRaft cluster on ports SY_KAFKA_PORT.. +2 (controllers on
# SY_KAFKA_CONTROLLER_PORT.. +2); 1 = one node (the layout of earlier versions).
SY_KAFKA_BROKERS_N="${SY_KAFKA_BROKERS_N:-3}"
SY_KAFKA_CONTROLLER_PORT="${SY_KAFKA_CONTROLLER_PORT:-$((SY_KAFKA_PORT + SY_KAFKA_BROKERS_N))}"
SY_MONGO_PORT="${SY_MONGO_PORT:-27018}"
SY_CLICKHOUSE_TCP_PORT="${SY_CLICKHOUSE_TCP_PORT:-19000}"
SY_CLICKHOUSE_HTTP_PORT="${SY_CLICKHOUSE_HTTP_PORT:-18123}"

export DEBIAN_FRONTEND=noninteractive

mkdir -p "$SY_RUN_DIR" "$SY_LOG_DIR" "$SY_CACHE_DIR"

sy_log() { printf '[%s %s] %s\n' "$(date -u +%H:%M:%S)" "${SY_SVC:-services}" "$*" >&2; }
sy_die() { sy_log "ERROR: $*"; exit 1; }

# sy_apt_install PKG... installs missing Debian packages non-interactively.
# apt-get update runs at most once per machine boot image (stamp in the cache), and again
# if an install fails (stale lists). A lock serialises concurrent installs of several services.
sy_apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	(
		flock 9
		local stamp="$SY_CACHE_DIR/apt-updated.stamp"
		local apt=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
		if [ ! -e "$stamp" ]; then
			sy_log "apt-get update"
			"${apt[@]}" update >&2 && touch "$stamp"
		fi
		sy_log "apt-get install ${missing[*]}"
		if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2; then
			sy_log "install failed; refreshing package lists and retrying"
			"${apt[@]}" update >&2 && touch "$stamp"
			"${apt[@]}" install --no-install-recommends "${missing[@]}" >&2
		fi
	) 9>"$SY_CACHE_DIR/apt.lock"
}

# sy_pid NAME prints the pid of a running service NAME (pid file + live process whose
# command line contains MATCH), or returns 1.
sy_pid() {
	local name="$1" match="$2" f="$SY_RUN_DIR/$1.pid" pid
	[ -s "$f" ] || return 1
	pid="$(cat "$f")"
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	# guard against a recycled pid (the service's command line names its config/port); an exited
	# leader thread has an empty command line, so that case is left to the zombie check below
	local cmd
	cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
	if [ -n "$cmd" ]; then
		case "$cmd" in *"$match"*) ;; *) return 1 ;; esac
	fi
	# a zombie (exited, not yet reaped) is not running; a zombie thread-group leader whose
	# other threads still run (Threads > 1) is
	if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ]; then
		[ "$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" -gt 1 ] 2>/dev/null || return 1
	fi
	echo "$pid"
}

# sy_spawn NAME CMD... starts CMD detached (own session, no terminal, output to the log)
# and records its pid in the pid file.
sy_spawn() {
	local name="$1"
	shift
	local pidf="$SY_RUN_DIR/$name.pid" logf="$SY_LOG_DIR/$name.log"
	rm -f "$pidf"
	printf '\n=== %s start %s\n' "$(date -u +%FT%TZ)" "$*" >>"$logf"
	# bash writes its own pid, then execs the service in place: the pid file names the service.
	# fd 7 (the per-service lock taken by sy_main) is closed so the server does not hold it.
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" </dev/null >>"$logf" 2>&1 7>&- &
	local i
	for i in $(seq 1 100); do
		[ -s "$pidf" ] && return 0
		sleep 0.05
	done
	sy_die "$name: no pid file after spawn"
}

# sy_stop NAME MATCH [TIMEOUT_S]: SIGTERM, wait, then SIGKILL. Idempotent.
sy_stop() {
	local name="$1" match="$2" timeout="${3:-30}" pid i
	if ! pid="$(sy_pid "$name" "$match")"; then
		rm -f "$SY_RUN_DIR/$name.pid"
		sy_log "not running"
		return 0
	fi
	sy_log "stopping pid $pid (SIGTERM)"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 $((timeout * 10))); do
		sy_pid "$name" "$match" >/dev/null || break
		sleep 0.1
	done
	if sy_pid "$name" "$match" >/dev/null; then
		sy_log "still alive after ${timeout}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for i in $(seq 1 50); do
			sy_pid "$name" "$match" >/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$SY_RUN_DIR/$name.pid"
	sy_log "stopped"
}

# sy_tcp_open HOST PORT: succeeds if something accepts a TCP connection.
sy_tcp_open() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# sy_port_free PORT fails if something already listens on 127.0.0.1:PORT.
sy_port_free() {
	! sy_tcp_open 127.0.0.1 "$1"
}

# sy_wait DESC TIMEOUT_S NAME MATCH CMD...: waits until CMD succeeds; fails early if the
# service process NAME died (the tail of its log is printed).
sy_wait() {
	local desc="$1" timeout="$2" name="$3" match="$4"
	shift 4
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ! sy_pid "$name" "$match" >/dev/null; then
			sy_log "$desc: process exited; last log lines:"
			tail -n 40 "$SY_LOG_DIR/$name.log" >&2 || true
			return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			sy_log "$desc: not ready after ${timeout}s; last log lines:"
			tail -n 40 "$SY_LOG_DIR/$name.log" >&2 || true
			return 1
		fi
		sleep 0.2
	done
}

# sy_http_get HOST PORT PATH prints the body of a plain HTTP/1.0 GET answered 200 (no curl needed).
sy_http_get() {
	timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$0" >&3
		cat <&3
	' "$1" "$2" "$3" | {
		IFS= read -r status || exit 1
		case "$status" in "HTTP/1."?" 200"*) ;; *)
			cat >/dev/null
			exit 1
			;;
		esac
		sed '1,/^\r\{0,1\}$/d'
	}
}

# sy_main VERB: runs svc_start/svc_stop/svc_status of the calling script (SY_SVC names it),
# holding the service's lock for start/stop/restart.
sy_main() {
	local verb="${1:-status}"
	if [ "$verb" != status ]; then
		# one start/stop at a time per service (several engineers and tests share a machine)
		exec 7>"$SY_RUN_DIR/$SY_SVC.lock"
		flock -w 600 7 || sy_die "timed out waiting for $SY_RUN_DIR/$SY_SVC.lock"
	fi
	shift || true
	# extra arguments (kafka.sh: a node id) go to the service's functions
	case "$verb" in
	start) svc_start "$@" ;;
	stop) svc_stop "$@" ;;
	restart)
		svc_stop "$@"
		svc_start "$@"
		;;
	status) svc_status "$@" ;;
	kill)
		declare -F svc_kill >/dev/null || sy_die "$SY_SVC: no kill verb"
		svc_kill "$@"
		;;
	*)
		echo "usage: $0 start|stop|status|restart" >&2
		exit 2
		;;
	esac
}

# sy_settle CMD...: runs CMD until it succeeds (3 s at most), then once more for its output. A
# status check right after "ready" can miss a process that is still settling on a loaded machine.
sy_settle() {
	local i
	for i in $(seq 1 30); do
		"$@" >/dev/null 2>&1 && break
		sleep 0.1
	done
	"$@"
}
