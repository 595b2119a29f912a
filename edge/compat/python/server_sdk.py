"""Drives FeatBit's official Python server SDK (fb-python-sdk) against a
Switchyard edge for edge/compat's Go test.

The line protocol is the one of ../node/lib/rpc.js: one JSON command per line
on stdin, answers and events on stdout prefixed with "SYCOMPAT "; SDK logs go
to stderr.

Environment: COMPAT_SECRET (server secret), COMPAT_STREAMING_URL
(ws://host:port), COMPAT_EVENTS_URL (http://host:port),
COMPAT_INIT_TIMEOUT_MS (default 15000).
"""

import json
import logging
import os
import sys
import threading
import time
import traceback
from importlib.metadata import version as pkg_version

import websocket

from fbclient.client import FBClient
from fbclient.config import Config

PREFIX = "SYCOMPAT "
_out_lock = threading.Lock()

# Count the SDK's WebSocket connections and record the close code each one
# ended with (None: no close frame was read): fbclient.streaming looks up
# websocket.WebSocketApp at each connect.
_stats = {"connects": 0, "closeCodes": []}
_BaseApp = websocket.WebSocketApp


class _CountedApp(_BaseApp):
    def __init__(self, *args, **kwargs):
        _stats["connects"] += 1
        on_close = kwargs.get("on_close")

        def recording_on_close(ws, code, msg):
            _stats["closeCodes"].append(code)
            if on_close:
                on_close(ws, code, msg)

        kwargs["on_close"] = recording_on_close
        super().__init__(*args, **kwargs)


websocket.WebSocketApp = _CountedApp


def emit(obj):
    line = PREFIX + json.dumps(obj) + "\n"
    with _out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def now_us():
    return time.time_ns() // 1000


def to_user(u):
    user = {"key": u["key"], "name": u.get("name") or u["key"]}
    for k, v in (u.get("custom") or {}).items():
        user[k] = str(v)
    # rawCustom values are given as they are; the SDK stringifies them.
    for k, v in (u.get("rawCustom") or {}).items():
        user[k] = v
    return user


def main():
    # The SDK logs every evaluation at INFO; keep stderr readable unless
    # COMPAT_DEBUG is set.
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if os.environ.get("COMPAT_DEBUG") else logging.WARNING,
                        format="%(asctime)s python-sdk %(levelname)s %(name)s %(message)s")
    secret = os.environ.get("COMPAT_SECRET")
    streaming = os.environ.get("COMPAT_STREAMING_URL")
    events = os.environ.get("COMPAT_EVENTS_URL")
    if not (secret and streaming and events):
        emit({"ev": "fatal", "error": "COMPAT_SECRET, COMPAT_STREAMING_URL and COMPAT_EVENTS_URL must be set"})
        return 1
    init_timeout = float(os.environ.get("COMPAT_INIT_TIMEOUT_MS", "15000")) / 1000.0
    started = time.monotonic()
    client = FBClient(Config(secret, events, streaming, events_flush_interval=1.0), start_wait=init_timeout)
    if not client.initialize and not os.environ.get("COMPAT_ALLOW_UNINITIALIZED"):
        emit({"ev": "fatal", "error": "client not initialized within %.1f s" % init_timeout})
        client.stop()
        return 1
    emit({"ev": "ready", "sdk": "fb-python-sdk", "version": pkg_version("fb-python-sdk"),
          "initMs": int((time.monotonic() - started) * 1000), "initialized": bool(client.initialize)})

    def evaluate(m):
        d = client.variation_detail(m["flag"], to_user(m["user"]), m.get("default"))
        return d.variation, d.reason

    def cmd_eval(m):
        value, reason = evaluate(m)
        return {"value": value, "reason": reason}

    def cmd_watch(m):
        want = json.dumps(m["want"])
        state = {"done": False}
        lock = threading.Lock()

        def changed(key, old, new):
            at = now_us()
            with lock:
                if state["done"] or json.dumps(new) != want:
                    return
                state["done"] = True
            emit({"ev": "seen", "id": m["id"], "flag": key, "value": new, "atUs": at})

        client.flag_tracker.add_flag_value_changed_listener(m["flag"], to_user(m["user"]), changed)
        value, _ = evaluate(m)
        return {"value": value}

    def cmd_track(m):
        client.track_metric(to_user(m["user"]), m["event"], float(m.get("value", 1.0)))
        return {}

    def cmd_flush(m):
        # flush() only schedules delivery on the event thread; the Go test
        # waits for the events on Kafka.
        client.flush()
        return {"result": True}

    def cmd_close(m):
        client.stop()
        return {}

    def cmd_stats(m):
        return {"connects": _stats["connects"], "closeCodes": list(_stats["closeCodes"])}

    handlers = {"eval": cmd_eval, "watch": cmd_watch, "track": cmd_track,
                "flush": cmd_flush, "stats": cmd_stats, "close": cmd_close}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            m = json.loads(line)
        except ValueError as e:
            emit({"ok": False, "error": "bad command: %s" % e})
            continue
        h = handlers.get(m.get("cmd"))
        if h is None:
            emit({"id": m.get("id"), "ok": False, "error": "unknown command %s" % m.get("cmd")})
            continue
        try:
            res = h(m)
            out = {"id": m.get("id"), "ok": True}
            out.update(res)
            emit(out)
        except Exception:
            emit({"id": m.get("id"), "ok": False, "error": traceback.format_exc()})
    client.stop()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        emit({"ev": "fatal", "error": traceback.format_exc()})
        sys.exit(1)
