// pages/sdk.tsx: the SDK secrets of an environment with copy buttons and a
// snippet that points a FeatBit SDK at the edge.
import { useState } from 'preact/hooks';
import { api, Env } from '../api';
import { Busy, CopyButton, Field, FormError, Page, fmtTime, useSession, usePermissions } from '../ui';

const EDGE_KEY = 'sy.edgeUrl';

// reported is the edge address the server reports (its -edge-url), with a
// wildcard host (":5100", "0.0.0.0:5100", "[::]:5100") replaced by the host
// this page was loaded from.
function reported(addr?: string): string {
  if (!addr) return '';
  return addr.replace(/^(0\.0\.0\.0|\[::\])?(?=:\d+$)/, location.hostname);
}

export function SdkKeys({ env }: { env: Env }) {
  const s = useSession();
  const can = usePermissions(env);
  const [edge, setEdge] = useState(localStorage.getItem(EDGE_KEY) || reported(s.me.edgeUrl) || `${location.hostname}:5100`);
  const [err, setErr] = useState<unknown>(null);
  // the current secret of a type is the one without an expiry (listed first)
  const server = env.secrets.find((x) => x.type === 'server' && !x.expiresAt)?.value || '';
  const client = env.secrets.find((x) => x.type === 'client' && !x.expiresAt)?.value || '';
  const previous = env.secrets.filter((x) => x.expiresAt);
  const host = edge.replace(/^\w+:\/\//, '').replace(/\/+$/, '');
  const node = `// npm install @featbit/node-server-sdk
const { FbClientBuilder, UserBuilder } = require('@featbit/node-server-sdk');
const fb = new FbClientBuilder()
  .sdkKey('${server}')
  .streamingUri('ws://${host}')
  .eventsUri('http://${host}')
  .build();
async function main() {
  await fb.waitForInitialization();
  const user = new UserBuilder('user-key').name('User').build();
  console.log(await fb.boolVariation('my-flag', user, false));
  await fb.close();
}
main();`;
  const js = `// npm install @featbit/js-client-sdk
import fbClient from '@featbit/js-client-sdk';
fbClient.init({
  secret: '${client}',
  api: 'http://${host}',
  user: { name: 'User', keyId: 'user-key', customizedProperties: [] },
});`;
  return (
    <Page title={`SDK keys · ${env.name}`}>
      <section class="card">
        <h2>Secrets</h2>
        {env.secrets.length === 0 && <p class="notice" role="status">You may not see this environment's SDK secrets (the secret:read action).</p>}
        {env.secrets.length > 0 && [['Server secret', server, 'server'], ['Client secret', client, 'client']].map(([label, value, type]) => (
          <div class="secret" key={type}>
            <div class="secret-label">{label}</div>
            <code class="mono" aria-label={label}>{value}</code>
            <CopyButton text={value} label={`Copy ${label.toLowerCase()}`} />
            {can('secret:rotate') && <Busy class="small" label={`Rotate ${label.toLowerCase()}`} onClick={async () => {
              if (!confirm(`Replace the ${label.toLowerCase()}? The old one keeps working for 24 hours; then SDKs still using it are disconnected.`)) return;
              try { await api.rotateSecret(env.id, type); s.reloadEnv(); } catch (e) { setErr(e); }
            }} busyText="Rotating…">Rotate</Busy>}
          </div>
        ))}
        {previous.length > 0 && <ul aria-label="Previous secrets">{previous.map((x) =>
          <li key={x.value}>previous {x.type} secret <code class="mono">{x.value.slice(0, 6)}…</code> works until {fmtTime(x.expiresAt)}</li>)}</ul>}
        <p class="muted">Server SDKs (back ends) use the server secret; client SDKs (browsers, apps) the client secret.</p>
        <p class="muted">To choose when a replaced secret stops working (at once, 1 hour, … 30 days), rotate it on the <a href={`/envs/${env.id}/settings`}>Settings</a> page.</p>
        <FormError err={err} />
      </section>
      <section class="card">
        <h2>Connect an SDK</h2>
        <Field label="Edge address (host:port the SDKs reach)" value={edge} onInput={(v) => { setEdge(v); localStorage.setItem(EDGE_KEY, v); }}
          hint="The edge serves FeatBit's streaming (WebSocket) and HTTP endpoints on one port; the default is the address the server reports (control's -edge-url)." />
        <h3>Node (server)</h3>
        <pre class="snippet" aria-label="Node SDK snippet">{node}</pre>
        <CopyButton text={node} label="Copy Node snippet" />
        <h3>Browser (client)</h3>
        <pre class="snippet" aria-label="Browser SDK snippet">{js}</pre>
        <CopyButton text={js} label="Copy browser snippet" />
      </section>
    </Page>
  );
}
