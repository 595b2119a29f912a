'use strict';
// openfeature-server.js: the OpenFeature server SDK (@openfeature/server-sdk)
// with the OFREP provider (@openfeature/ofrep-provider) against the edge,
// driven by edge/compat's Go test over lib/rpc.js's line protocol.
//
// Environment: COMPAT_EDGE_URL (http://host:port), COMPAT_SECRET.
// Commands: {"cmd":"eval","flag","type":"boolean|string|number|object",
// "default","context"} → {"value","reason","variant","errorCode","flagKey"}.
const { OpenFeature } = require('@openfeature/server-sdk');
const { OFREPProvider } = require('@openfeature/ofrep-provider');
const { emit, fatal, serve } = require('./lib/rpc');

const details = {
  boolean: (c, f, d, ctx) => c.getBooleanDetails(f, d, ctx),
  string: (c, f, d, ctx) => c.getStringDetails(f, d, ctx),
  number: (c, f, d, ctx) => c.getNumberDetails(f, d, ctx),
  object: (c, f, d, ctx) => c.getObjectDetails(f, d, ctx),
};

async function main() {
  const provider = new OFREPProvider({
    baseUrl: process.env.COMPAT_EDGE_URL,
    headers: [['Authorization', 'Bearer ' + process.env.COMPAT_SECRET]],
  });
  await OpenFeature.setProviderAndWait(provider);
  const client = OpenFeature.getClient();
  emit({ ev: 'ready', sdk: 'openfeature-ofrep-provider', version: require('@openfeature/ofrep-provider/package.json').version, initialized: true });
  serve({
    eval: async (m) => {
      const d = await details[m.type](client, m.flag, m.default, m.context || {});
      return { value: d.value, reason: d.reason, variant: d.variant, errorCode: d.errorCode || '', flag: d.flagKey };
    },
  }, () => OpenFeature.close());
}

main().catch(fatal);
