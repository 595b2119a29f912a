// featbit-openfeature.js: page script of ../openfeature-web.js: OpenFeature's
// web SDK with FeatBit's provider (@featbit/openfeature-provider-js-client
// over @featbit/js-client-sdk, streaming from the edge). The provider reads
// custom attributes only from the context's "custom" member, so the flat
// context the test sends is moved there.
import { FbProvider } from '@featbit/openfeature-provider-js-client';
import { install } from './harness';

const toContext = (c) => {
  const custom = {};
  for (const [k, v] of Object.entries(c)) {
    if (k !== 'targetingKey' && k !== 'name') custom[k] = v;
  }
  return { targetingKey: c.targetingKey, name: c.name, custom };
};

install((a) => new FbProvider({
  sdkKey: a.secret,
  streamingUri: a.streamingUrl,
  eventsUri: a.baseUrl,
  user: {
    keyId: a.context.targetingKey,
    name: a.context.name,
    customizedProperties: Object.entries(toContext(a.context).custom).map(([name, value]) => ({ name, value: String(value) })),
  },
}), toContext);
