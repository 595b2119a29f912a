// Evaluates flags for users with FeatBit's Node server SDK in offline mode,
// bootstrapped from a server-SDK data-sync document (what FeatBit's
// GET /api/public/sdk/server/latest-all returns). Used by the FeatBit import
// round trip (control/internal/featbit, TestImportRoundTrip): the SDK
// evaluates the ORIGINAL data here, the edge evaluates the imported data.
//
// Usage: node offline-eval.js INPUT.json
// INPUT: {"bootstrap": <data-sync document>, "flags": [{"key","type"}…] (type: FeatBit's variationType),
//         "users": [{"keyId","name","customizedProperties":[{"name","value"}]}]}
// Output (stdout, one JSON document): {"<keyId>": {"<flag key>": {"value","reason"}}}, value as the
// string FeatBit stores (booleans and numbers with String(), JSON documents with JSON.stringify).
'use strict';

const fs = require('fs');
const { FbClientBuilder, UserBuilder } = require('@featbit/node-server-sdk');

// The SDK's default is a value no flag serves, so a default is visible.
async function evaluate(client, key, type, user) {
  let d;
  switch (type) {
    case 'boolean':
      d = await client.boolVariationDetail(key, user, null);
      break;
    case 'number':
      d = await client.numberVariationDetail(key, user, null);
      break;
    case 'json':
      d = await client.jsonVariationDetail(key, user, null);
      return { value: d.value === null ? '<sdk-default>' : JSON.stringify(d.value), reason: d.reason };
    default:
      d = await client.stringVariationDetail(key, user, null);
  }
  return { value: d.value === null ? '<sdk-default>' : String(d.value), reason: d.reason };
}

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
    for (const { key, type } of input.flags) {
      row[key] = await evaluate(client, key, type, user);
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
