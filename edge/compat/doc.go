// Package compat holds the compatibility test that runs FeatBit's official
// SDKs, unmodified, against an in-process Switchyard edge.
//
// The SDKs are real packages from their registries, pinned exactly:
// @featbit/node-server-sdk and @featbit/js-client-sdk from npm (node/,
// package.json plus package-lock.json; the JS client is a browser SDK and
// runs under Node with the ws package as its WebSocket and a Map-backed
// localStorage), and fb-python-sdk from PyPI (python/requirements.txt). Each
// SDK is driven by a small script that reads JSON commands on stdin and
// answers with JSON lines on stdout; the Go test (build tag integration, so
// it runs in `make test`) installs the packages on first use (npm ci, and a
// virtualenv cached under $SY_CACHE_DIR keyed by the requirements' hash),
// starts an edge with a LocalSource and the real Kafka event sink, and checks
// for each SDK: initialisation over the WebSocket, flag values (boolean,
// string, number, JSON, targeting, rules, segments, a percentage rollout
// compared with the edge's own evaluator), a change pushed through the
// source reaching the SDK (the delay is logged, the deadline generous), and
// track/flush events arriving on the insight topic.
//
// The package has no non-test code; docs/compat.md describes how to run it,
// what it checks, the measured figures and the SDK quirks it found.
package compat
