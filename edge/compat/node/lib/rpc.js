'use strict';
// Line protocol shared by the compat scripts and edge/compat's Go test.
// With COMPAT_ALLOW_UNINITIALIZED set, a client that does not initialise
// still reports "ready" (with initialized: false) instead of failing.
//
// The Go test writes one JSON command per line on stdin:
//   {"id":1,"cmd":"eval","flag":"k","type":"bool|string|number|json","user":{...},"default":...}
// and the script answers on stdout with lines that start with PREFIX:
//   {"id":1,"ok":true,...} or {"id":1,"ok":false,"error":"..."}
// plus unsolicited events {"ev":"ready"|"seen"|"fatal",...}. Everything else
// the SDKs print goes to stderr, which the Go test shows when a check fails.
const readline = require('readline');
const { performance } = require('perf_hooks');

const PREFIX = 'SYCOMPAT ';

function emit(obj) {
  process.stdout.write(PREFIX + JSON.stringify(obj) + '\n');
}

// nowUs is the wall clock in microseconds (sub-millisecond resolution), so
// the Go test can compare it with its own clock on the same host.
function nowUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function fatal(err) {
  emit({ ev: 'fatal', error: String((err && err.stack) || err) });
  process.exit(1);
}

// stderrLogger is an SDK logger (the ILogger shape both FeatBit JS SDKs
// accept) writing to stderr.
// Debug lines are dropped unless COMPAT_DEBUG is set.
function stderrLogger(prefix) {
  const w = (lvl) => (...args) => process.stderr.write(`${new Date().toISOString()} ${prefix} ${lvl} ${args.map(String).join(' ')}\n`);
  return { error: w('error'), warn: w('warn'), info: w('info'), debug: process.env.COMPAT_DEBUG ? w('debug') : () => {} };
}

// serve reads commands from stdin and dispatches them to handlers[cmd].
// A handler returns (or resolves to) an object merged into the reply.
// Commands run one at a time, in order. When stdin closes the process exits.
function serve(handlers, onEOF) {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    if (!line.trim()) return;
    chain = chain.then(async () => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch (e) {
        emit({ ok: false, error: 'bad command: ' + e.message });
        return;
      }
      const h = handlers[msg.cmd];
      if (!h) {
        emit({ id: msg.id, ok: false, error: 'unknown command ' + msg.cmd });
        return;
      }
      try {
        const res = await h(msg);
        emit(Object.assign({ id: msg.id, ok: true }, res || {}));
      } catch (e) {
        emit({ id: msg.id, ok: false, error: String((e && e.stack) || e) });
      }
    });
  });
  rl.on('close', () => {
    chain.then(() => (onEOF ? onEOF() : undefined)).finally(() => process.exit(0));
  });
}

// withTimeout rejects when p does not settle within ms.
function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

function requireEnv(name) {
  const v = process.env[name];
  if (!v) fatal(new Error(`environment variable ${name} is not set`));
  return v;
}

// options returns the SDK options both JavaScript SDKs share, from the
// environment: COMPAT_SYNC_MODE ("streaming", the default, or "polling"),
// COMPAT_POLL_MS (polling interval), COMPAT_PING_MS (WebSocket ping
// interval; the JS client drops a connection silent for twice that).
function options() {
  const o = {
    sdkKey: requireEnv('COMPAT_SECRET'),
    streamingUri: requireEnv('COMPAT_STREAMING_URL'),
    eventsUri: requireEnv('COMPAT_EVENTS_URL'),
    pollingUri: requireEnv('COMPAT_EVENTS_URL'),
    startWaitTime: Number(process.env.COMPAT_INIT_TIMEOUT_MS || 15000),
    flushInterval: 1000,
  };
  if (process.env.COMPAT_SYNC_MODE) o.dataSyncMode = process.env.COMPAT_SYNC_MODE;
  if (process.env.COMPAT_POLL_MS) o.pollingInterval = Number(process.env.COMPAT_POLL_MS);
  if (process.env.COMPAT_PING_MS) o.webSocketPingInterval = Number(process.env.COMPAT_PING_MS);
  return o;
}

// countConstructions returns a subclass of cls counting its instances in
// stats.connects (every SDK connection attempt constructs one WebSocket)
// and recording each close code in stats.closeCodes (1006: the connection
// ended without a close frame being read), also logged to stderr.
function countConstructions(cls, stats) {
  stats.connects = 0;
  stats.closeCodes = [];
  class Counted extends cls {
    constructor(...args) {
      super(...args);
      stats.connects++;
      const n = stats.connects;
      this.addEventListener('close', (e) => {
        stats.closeCodes.push(e.code);
        process.stderr.write(`${new Date().toISOString()} compat: WebSocket #${n} closed, code ${e.code} ${e.reason || ''}\n`);
      });
    }
  }
  return Counted;
}

module.exports = {
  options,
  countConstructions, PREFIX, emit, nowUs, fatal, stderrLogger, serve, withTimeout, requireEnv };
