// Package compat holds the compatibility test that runs FeatBit's official
// SDKs, unmodified, against an in-process Switchyard edge.
//
// The SDKs are real packages from their registries, pinned exactly:
// @featbit/node-server-sdk and @featbit/js-client-sdk from npm (node/,
// package.json plus package-lock.json; the JS client is a browser SDK and
// runs under Node with the ws package as its WebSocket and a Map-backed
// localStorage), and fb-python-sdk from PyPI (python/requirements.txt). Each
// SDK is driven by a small script that reads JSON commands on stdin and
// answers with JSON lines on stdout (node/lib/rpc.js describes the protocol).
//
// The Go tests (build tag integration, so they run in `make test`) install
// the packages on first use (npm ci, and a virtualenv cached under
// $SY_CACHE_DIR keyed by the requirements' hash), start an edge fed by an
// edge.LocalSource with the real Kafka event sink under a random topic
// prefix, and check for each SDK, streaming and (Node, JS) polling:
// initialisation; flag values (boolean, string, number, JSON, targeting,
// rules, segments, a percentage rollout compared with edge/eval); changes and
// segment changes pushed through the source and seen through the SDK's own
// change notification (the delay is logged, the deadline generous); events
// (track/flush) decoded from the insight topic and end users from the
// end-user topic; no reconnects (the JS client's liveness check needs pong
// replies); re-sync after an edge restart; a 1,000-flag environment; and
// that a rejected secret (close code 4003) stops the SDK for good. Known
// differences between an SDK and FeatBit's server are pinned in knownQuirks.
//
// openfeature_test.go runs OpenFeature's SDKs against the same edge: the Node
// server SDK with @openfeature/ofrep-provider, the Python SDK with
// openfeature-provider-ofrep and with FeatBit's featbit-openfeature-server,
// and, in headless Chromium (node/openfeature-web.js, page scripts under
// node/browser/), the web SDK with @openfeature/ofrep-web-provider and with
// FeatBit's @featbit/openfeature-provider-js-client. Each resolves every
// flag type, gets FLAG_NOT_FOUND and TYPE_MISMATCH where the provider
// reports them, sees a published change, and feeds insights and end users.
//
// react_test.go runs FeatBit's React SDK (@featbit/react-client-sdk, React
// 18) in headless Chromium: rendered values, a re-render on a pushed
// change, evaluation events.
//
// relay_test.go runs the Node server SDK against a relay edge that takes
// its environment from an upstream edge through a TCP proxy the test cuts
// and restores (changes converge, no event lost).
//
// rotation_test.go rotates a server key through control's API on the
// all-in-one binary with the Node server SDK connected on the old and on the
// new key; rolling_test.go restarts two edges one after the other with Node
// server SDKs connected to each and a change made during each drain.
//
// The package has no non-test code; docs/compat.md describes how to run it,
// what it checks, the measured figures, the SDK quirks and the edge issues it
// found.
package compat
