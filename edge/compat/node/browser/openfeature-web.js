// openfeature-web.js: the page script of openfeature-web.js (bundled by
// esbuild into one IIFE and run in headless Chromium): OpenFeature's web SDK
// with the OFREP web provider. It exposes window.__sy for the driver and
// reports provider events through window.__syEmit (a Playwright binding).
import { OpenFeature, ClientProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

let client;

window.__sy = {
  // init sets the first context and waits for the provider's first bulk
  // evaluation.
  async init({ baseUrl, secret, pollMs, context }) {
    await OpenFeature.setContext(context);
    const provider = new OFREPWebProvider({
      baseUrl,
      headers: [['Authorization', 'Bearer ' + secret]],
      pollInterval: pollMs,
      changeDetection: 'polling',
      cacheMode: 'disabled',
    });
    client = OpenFeature.getClient();
    client.addHandler(ClientProviderEvents.ConfigurationChanged, (d) => {
      window.__syEmit({ ev: 'changed', flags: (d && d.flagsChanged) || [] });
    });
    await OpenFeature.setProviderAndWait(provider);
  },
  // eval evaluates from the provider's cache, after switching the context
  // (one bulk evaluation) when it differs from the current one.
  async eval({ flag, type, def, context }) {
    if (JSON.stringify(OpenFeature.getContext()) !== JSON.stringify(context)) {
      await OpenFeature.setContext(context);
    }
    const f = {
      boolean: () => client.getBooleanDetails(flag, def),
      string: () => client.getStringDetails(flag, def),
      number: () => client.getNumberDetails(flag, def),
      object: () => client.getObjectDetails(flag, def),
    }[type];
    const d = f();
    return { value: d.value, reason: d.reason, variant: d.variant, errorCode: d.errorCode || '', flag: d.flagKey };
  },
};
