// react-client.js: page script of ../react-client.js: FeatBit's React SDK
// (@featbit/react-client-sdk over @featbit/js-client-sdk, streaming from the
// edge) in a real React 18 tree. The app component reads every flag with
// the SDK's useFlags hook and renders each value into the DOM; after every
// render it reports what it rendered to the driver (window.__syEmit, a
// Playwright binding) as {"ev":"render","value":{key: value}}, read back
// from the DOM, so the test sees what a user of the page would see.
import { createElement as h, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { asyncWithFbProvider, useFlags } from '@featbit/react-client-sdk';

function rendered() {
  const out = {};
  for (const li of document.querySelectorAll('li[data-flag]')) out[li.dataset.flag] = JSON.parse(li.textContent);
  return out;
}

function App({ keys }) {
  const flags = useFlags();
  useEffect(() => {
    window.__syEmit({ ev: 'render', value: rendered() });
  });
  return h('ul', null, keys.map((k) => h('li', { key: k, 'data-flag': k }, JSON.stringify(flags[k] === undefined ? null : flags[k]))));
}

window.__sy = {
  async init(a) {
    const Provider = await asyncWithFbProvider({
      options: {
        sdkKey: a.secret,
        streamingUri: a.streamingUrl,
        eventsUri: a.baseUrl,
        user: a.user,
        flushInterval: 1000,
      },
      reactOptions: { useCamelCaseFlagKeys: false },
    });
    const root = document.createElement('div');
    document.body.appendChild(root);
    createRoot(root).render(h(Provider, null, h(App, { keys: a.keys })));
    return {};
  },
  values: () => rendered(),
};
