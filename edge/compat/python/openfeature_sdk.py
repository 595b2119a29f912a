"""Drives OpenFeature's Python SDK (openfeature-sdk) against a Switchyard
edge for edge/compat's Go test, with the OFREP provider
(openfeature-provider-ofrep) or, with COMPAT_PROVIDER=featbit, FeatBit's
provider (featbit-openfeature-server, over FeatBit's Python server SDK and
its WebSocket stream).

The line protocol is the one of ../node/lib/rpc.js: one JSON command per line
on stdin, answers and events on stdout prefixed with "SYCOMPAT ".

Environment: COMPAT_EDGE_URL (http://host:port), COMPAT_SECRET;
COMPAT_STREAMING_URL (ws://host:port) for FeatBit's provider.
Commands: {"cmd":"eval","flag","type":"boolean|string|number|object",
"default","context"} -> {"value","reason","variant","errorCode","flag"}.
"""

import json
import logging
import os
import sys
import traceback
from importlib.metadata import version as pkg_version

from openfeature import api
from openfeature.evaluation_context import EvaluationContext

PREFIX = "SYCOMPAT "


def emit(obj):
    sys.stdout.write(PREFIX + json.dumps(obj) + "\n")
    sys.stdout.flush()


def details(client, typ, flag, default, ctx):
    if typ == "boolean":
        return client.get_boolean_details(flag, default, ctx)
    if typ == "string":
        return client.get_string_details(flag, default, ctx)
    if typ == "number":
        # the provider checks the Python type of the JSON value: an integral
        # number parses as int and get_float_details refuses it
        # (TYPE_MISMATCH), so an int default asks for an integer
        if isinstance(default, int):
            return client.get_integer_details(flag, default, ctx)
        return client.get_float_details(flag, default, ctx)
    if typ == "object":
        return client.get_object_details(flag, default, ctx)
    raise ValueError("unknown type " + typ)


def provider():
    secret = os.environ["COMPAT_SECRET"]
    if os.environ.get("COMPAT_PROVIDER") == "featbit":
        from fbclient.client import FBClient
        from fbclient.config import Config
        from featbit_openfeature import FeatBitProvider

        fb = FBClient(Config(secret, os.environ["COMPAT_EDGE_URL"], os.environ["COMPAT_STREAMING_URL"],
                             events_flush_interval=1.0), start_wait=15)
        return FeatBitProvider(fb), "featbit-openfeature-server"
    from openfeature.contrib.provider.ofrep import OFREPProvider

    return OFREPProvider(os.environ["COMPAT_EDGE_URL"],
                         headers_factory=lambda: {"Authorization": "Bearer " + secret}), "openfeature-provider-ofrep"


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if os.environ.get("COMPAT_DEBUG") else logging.WARNING)
    p, name = provider()
    api.set_provider(p)
    client = api.get_client()
    emit({"ev": "ready", "sdk": name, "version": pkg_version(name), "initialized": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        m = json.loads(line)
        try:
            if m.get("cmd") != "eval":
                raise ValueError("unknown command " + str(m.get("cmd")))
            c = dict(m.get("context") or {})
            key = c.pop("targetingKey", None)
            d = details(client, m["type"], m["flag"], m.get("default"), EvaluationContext(key, c))
            code = d.error_code.value if d.error_code is not None else ""
            reason = d.reason.value if hasattr(d.reason, "value") else d.reason
            emit({"id": m["id"], "ok": True, "value": d.value, "reason": reason, "variant": d.variant,
                  "errorCode": code, "flag": d.flag_key})
        except Exception:
            emit({"id": m.get("id"), "ok": False, "error": traceback.format_exc()})


if __name__ == "__main__":
    try:
        main()
        api.shutdown()
    except Exception:
        emit({"ev": "fatal", "error": traceback.format_exc()})
        sys.exit(1)
