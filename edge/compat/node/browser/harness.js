// harness.js: what the page scripts share. install(makeProvider, toContext)
// sets window.__sy for the driver (openfeature-web.js): init({baseUrl,
// streamingUrl, secret, pollMs, context}) sets the first context, builds the
// provider and waits until it is ready (answering {etag}, the OFREP web
// provider's kept ETag); eval({flag, type, def, context})
// switches the context when it differs (the provider re-evaluates) and
// evaluates from the provider's cache. Provider ConfigurationChanged events
// go to window.__syEmit (a Playwright binding) as {"ev":"changed","flags"}.
import { OpenFeature, ClientProviderEvents } from '@openfeature/web-sdk';

export function install(makeProvider, toContext = (c) => c) {
  let client;
  let current = null;
  window.__sy = {
    async init(a) {
      current = JSON.stringify(a.context);
      await OpenFeature.setContext(toContext(a.context));
      client = OpenFeature.getClient();
      client.addHandler(ClientProviderEvents.ConfigurationChanged, (d) => {
        window.__syEmit({ ev: 'changed', flags: (d && d.flagsChanged) || [] });
      });
      const provider = makeProvider(a);
      await OpenFeature.setProviderAndWait(provider);
      // the entity tag the OFREP web provider keeps for If-None-Match (a
      // private field; null when the browser hid the ETag header)
      return { etag: provider._etag || '' };
    },
    async eval({ flag, type, def, context }) {
      if (JSON.stringify(context) !== current) {
        current = JSON.stringify(context);
        await OpenFeature.setContext(toContext(context));
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
}
