'use strict';
// Drives FeatBit's official Node server SDK (@featbit/node-server-sdk)
// against a Switchyard edge for edge/compat's Go test. See lib/rpc.js for
// the line protocol.
//
// Environment: COMPAT_SECRET (server secret), COMPAT_STREAMING_URL
// (ws://host:port), COMPAT_EVENTS_URL (http://host:port, also the polling
// base), COMPAT_INIT_TIMEOUT_MS (default 15000), and the options read by
// rpc.options (sync mode, polling and ping intervals).
const rpc = require('./lib/rpc');

// Count the SDK's WebSocket connections: the SDK constructs the `ws`
// package's default export, so replace it in the module cache before the
// SDK loads.
const stats = { connects: 0 };
require('ws');
const wsModule = require.cache[require.resolve('ws')];
wsModule.exports = rpc.countConstructions(wsModule.exports, stats); // statics (OPEN, ...) are inherited

const { FbClientBuilder, UserBuilder } = require('@featbit/node-server-sdk');
const sdkVersion = require('@featbit/node-server-sdk/package.json').version;

function toUser(u) {
  const b = new UserBuilder(u.key).name(u.name || u.key);
  for (const [k, v] of Object.entries(u.custom || {})) b.custom(k, String(v));
  // rawCustom values are passed as they are (a number stays a number, as in
  // the SDK's README example custom('age', 18)).
  for (const [k, v] of Object.entries(u.rawCustom || {})) b.custom(k, v);
  return b.build();
}

async function evaluate(client, flag, type, user, def) {
  switch (type) {
    case 'bool':
      return client.boolVariationDetail(flag, user, def);
    case 'string':
      return client.stringVariationDetail(flag, user, def);
    case 'number':
      return client.numberVariationDetail(flag, user, def);
    case 'json':
      return client.jsonVariationDetail(flag, user, def);
    default:
      throw new Error('unknown type ' + type);
  }
}

async function main() {
  const opts = rpc.options();
  const initTimeout = opts.startWaitTime;
  const started = Date.now();
  const client = new FbClientBuilder(opts).logger(rpc.stderrLogger('node-server-sdk')).build();
  let initialized = true;
  try {
    await rpc.withTimeout(client.waitForInitialization(), initTimeout, 'waitForInitialization');
  } catch (e) {
    if (!process.env.COMPAT_ALLOW_UNINITIALIZED) rpc.fatal(e);
    initialized = false;
  }
  rpc.emit({ ev: 'ready', sdk: '@featbit/node-server-sdk', version: sdkVersion, initMs: Date.now() - started, initialized });

  rpc.serve(
    {
      async eval(m) {
        const d = await evaluate(client, m.flag, m.type, toUser(m.user), m.default);
        return { value: d.value, kind: d.kind, reason: d.reason };
      },
      // watch reports (ev "seen") the first time the flag evaluates to m.want
      // for m.user after an update event from the SDK.
      async watch(m) {
        const user = toUser(m.user);
        const want = JSON.stringify(m.want);
        const id = m.id;
        let done = false;
        const listener = async () => {
          if (done) return;
          const at = rpc.nowUs();
          const d = await evaluate(client, m.flag, m.type, user, m.default);
          if (!done && JSON.stringify(d.value) === want) {
            done = true;
            client.off(`update:${m.flag}`, listener);
            rpc.emit({ ev: 'seen', id, flag: m.flag, value: d.value, atUs: at });
          }
        };
        client.on(`update:${m.flag}`, listener);
        const now = await evaluate(client, m.flag, m.type, user, m.default);
        return { value: now.value };
      },
      async track(m) {
        client.track(toUser(m.user), m.event, m.value);
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
