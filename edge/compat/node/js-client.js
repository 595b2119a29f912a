'use strict';
// Drives FeatBit's official JS client SDK (@featbit/js-client-sdk, a browser
// SDK) under Node 20 against a Switchyard edge for edge/compat's Go test.
// Node 20 has no global WebSocket or localStorage, so this script supplies
// them: the `ws` package's class as globalThis.WebSocket and a Map-backed
// localStorage. See lib/rpc.js for the line protocol.
//
// Environment: COMPAT_SECRET (client secret), COMPAT_STREAMING_URL,
// COMPAT_EVENTS_URL (also the polling base), COMPAT_USER (JSON
// {"key","name","custom":{...}}), COMPAT_INIT_TIMEOUT_MS (default 15000),
// and the options read by rpc.options (sync mode, polling and ping
// intervals).
const rpc = require('./lib/rpc');

// The SDK's WebSocket, counting connection attempts in stats.connects.
const stats = { connects: 0 };
const BaseWebSocket = typeof globalThis.WebSocket === 'undefined' ? require('ws') : globalThis.WebSocket;
globalThis.WebSocket = rpc.countConstructions(BaseWebSocket, stats); // statics (OPEN, ...) are inherited
if (typeof globalThis.localStorage === 'undefined') {
  const m = new Map();
  globalThis.localStorage = {
    getItem: (k) => (m.has(String(k)) ? m.get(String(k)) : null),
    setItem: (k, v) => void m.set(String(k), String(v)),
    removeItem: (k) => void m.delete(String(k)),
    clear: () => m.clear(),
    key: (i) => Array.from(m.keys())[i] ?? null,
    get length() {
      return m.size;
    },
  };
}
const { FbClientBuilder } = require('@featbit/js-client-sdk');
// The package's "exports" hides package.json, so read it from disk.
const sdkVersion = JSON.parse(
  require('fs').readFileSync(require('path').join(__dirname, 'node_modules/@featbit/js-client-sdk/package.json'), 'utf8')
).version;

function toUser(u) {
  return {
    keyId: u.key,
    name: u.name || u.key,
    customizedProperties: Object.entries(u.custom || {})
      .map(([name, value]) => ({ name, value: String(value) }))
      // rawCustom values go on the wire as they are (numbers stay numbers).
      .concat(Object.entries(u.rawCustom || {}).map(([name, value]) => ({ name, value }))),
  };
}

function evaluate(client, flag, type, def) {
  switch (type) {
    case 'bool':
      return client.boolVariationDetail(flag, def);
    case 'string':
      return client.stringVariationDetail(flag, def);
    case 'number':
      return client.numberVariationDetail(flag, def);
    case 'json':
      return client.jsonVariationDetail(flag, def);
    default:
      throw new Error('unknown type ' + type);
  }
}

async function main() {
  const opts = rpc.options();
  const initTimeout = opts.startWaitTime;
  const started = Date.now();
  const user = toUser(JSON.parse(rpc.requireEnv('COMPAT_USER')));
  const client = new FbClientBuilder(opts).user(user).logger(rpc.stderrLogger('js-client-sdk')).build();
  let initialized = true;
  try {
    await rpc.withTimeout(client.waitForInitialization(), initTimeout, 'waitForInitialization');
  } catch (e) {
    if (!process.env.COMPAT_ALLOW_UNINITIALIZED) rpc.fatal(e);
    initialized = false;
  }
  rpc.emit({ ev: 'ready', sdk: '@featbit/js-client-sdk', version: sdkVersion, initMs: Date.now() - started, initialized });

  rpc.serve(
    {
      // eval evaluates for the client's current user (m.user is ignored: a
      // client SDK holds one user; use identify to switch).
      async eval(m) {
        const d = evaluate(client, m.flag, m.type, m.default);
        return { value: d.value, kind: d.kind, reason: d.reason };
      },
      async identify(m) {
        await rpc.withTimeout(client.identify(toUser(m.user)), 10000, 'identify');
        return {};
      },
      async all() {
        const all = await client.getAllVariations();
        return { flags: all.map((d) => ({ flag: d.flagKey, value: d.value, kind: d.kind, reason: d.reason })) };
      },
      async watch(m) {
        const want = JSON.stringify(m.want);
        const id = m.id;
        let done = false;
        const listener = () => {
          if (done) return;
          const at = rpc.nowUs();
          const d = evaluate(client, m.flag, m.type, m.default);
          if (JSON.stringify(d.value) === want) {
            done = true;
            client.off(`update:${m.flag}`, listener);
            rpc.emit({ ev: 'seen', id, flag: m.flag, value: d.value, atUs: at });
          }
        };
        client.on(`update:${m.flag}`, listener);
        return { value: evaluate(client, m.flag, m.type, m.default).value };
      },
      async track(m) {
        client.track(m.event, m.value);
        return {};
      },
      async flush() {
        const ok = await rpc.withTimeout(client.flush(), 10000, 'flush');
        return { result: ok };
      },
      async stats() {
        return stats;
      },
      async close() {
        await client.close();
        return {};
      },
    },
    () => client.close().catch(() => {})
  );
}

main().catch(rpc.fatal);
