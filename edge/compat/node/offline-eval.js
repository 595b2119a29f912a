// Evaluates flags for users with FeatBit's Node server SDK in offline mode,
// bootstrapped from a server-SDK data-sync document (what FeatBit's
// GET /api/public/sdk/server/latest-all returns). Used by the FeatBit import
// round trip (control/internal/featbit, TestImportRoundTrip): the SDK
// evaluates the ORIGINAL data here, the edge evaluates the imported data.
//
// Usage: node offline-eval.js INPUT.json
// INPUT: {"bootstrap": <data-sync document>, "flags": [key…],
//         "users": [{"keyId","name","customizedProperties":[{"name","value"}]}]}
// Output (stdout, one JSON document): {"<keyId>": {"<flag key>": {"value","reason"}}}
'use strict';

const fs = require('fs');
const { FbClientBuilder, UserBuilder } = require('@featbit/node-server-sdk');

async function main() {
  const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const client = new FbClientBuilder()
    .offline(true)
    .useJsonBootstrapProvider(JSON.stringify(input.bootstrap))
    .logLevel('error')
    .build();
  await client.waitForInitialization();
  const out = {};
  for (const u of input.users) {
    const b = new UserBuilder(u.keyId).name(u.name);
    for (const p of u.customizedProperties || []) b.custom(p.name, p.value);
    const user = b.build();
    const row = {};
    for (const key of input.flags) {
      const d = await client.stringVariationDetail(key, user, '<sdk-default>');
      row[key] = { value: d.value, reason: d.reason };
    }
    out[u.keyId] = row;
  }
  process.stdout.write(JSON.stringify(out));
  await client.close();
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + '\n');
  process.exit(1);
});
