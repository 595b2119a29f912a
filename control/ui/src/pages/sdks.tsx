// pages/sdks.tsx: the live view of the SDKs connected to an environment
// (docs/delivery.md): connections by type and SDK across edges and per
// edge, secrets that expire within the window, SDK versions with a known
// protocol problem. Refreshed every few seconds while the page is visible.
import { useEffect, useState } from 'preact/hooks';
import { Env, request } from '../api';
import { edgeName } from '../receipt';
import { Busy, FormError, Page, Select, Spinner, fmtTime } from '../ui';

export const SDKS_ROUTE = '/api/v1/envs/{envId}/sdks';
const REFRESH = 5000; // ms; the edges' heartbeat interval is 5 s

export interface Counts { server: number; client: number; total: number }
export interface SDKGroup { type: string; sdk: string; count: number; secretExpiresAt?: number; expiring?: boolean; problem?: string }
export interface EdgeView { edge: string; envVersion: number; connections: Counts; sdks: SDKGroup[] | null }
export interface SDKView { envId: string; connections: Counts; sdks: SDKGroup[] | null; edges: EdgeView[] | null; expiring: number }

const WINDOWS = [
  { value: '24h', label: '24 hours' },
  { value: '168h', label: '7 days' },
  { value: '720h', label: '30 days' },
];
const num = (n: number) => n.toLocaleString('en-US');
const sdkName = (s: string) => (s === '' ? 'unknown (no User-Agent)' : s === 'other' ? 'other (too many names)' : s);

export const sdkView = (env: string, window: string) =>
  request<SDKView>('GET', `/api/v1/envs/${encodeURIComponent(env)}/sdks?window=${encodeURIComponent(window)}`);

function Groups({ groups, label }: { groups: SDKGroup[]; label: string }) {
  if (!groups.length) return <p class="muted">No connections.</p>;
  return (
    <table class="list" aria-label={label}>
      <thead><tr><th scope="col">Type</th><th scope="col">SDK</th><th scope="col">Connections</th><th scope="col">Secret expires</th><th scope="col">Notes</th></tr></thead>
      <tbody>{groups.map((g, i) => (
        <tr key={i} class={g.problem || g.expiring ? 'warn' : ''}>
          <td>{g.type}</td>
          <td class="mono">{sdkName(g.sdk)}</td>
          <td data-testid="sdk-count">{num(g.count)}</td>
          <td>{g.secretExpiresAt ? fmtTime(g.secretExpiresAt) : <span class="muted">never</span>}
            {g.expiring && <> <span class="badge bad">expiring</span></>}</td>
          <td>{g.problem ? <><span class="badge bad">known problem</span> {g.problem}</> : ''}</td>
        </tr>))}
      </tbody>
    </table>
  );
}

export function ConnectedSDKs({ env }: { env: Env }) {
  const [win, setWin] = useState('24h');
  const [view, setView] = useState<SDKView | null>(null);
  const [at, setAt] = useState(0);
  const [err, setErr] = useState<unknown>(null);
  const load = async () => {
    try { setView(await sdkView(env.id, win)); setAt(Date.now()); setErr(null); } catch (e) { setErr(e); }
  };
  useEffect(() => {
    let t: ReturnType<typeof setTimeout> | undefined;
    let stop = false;
    const tick = async () => {
      if (stop) return;
      if (document.visibilityState === 'visible') await load();
      if (!stop) t = setTimeout(tick, REFRESH);
    };
    const onVis = () => { if (document.visibilityState === 'visible') { clearTimeout(t); tick(); } };
    tick();
    document.addEventListener('visibilitychange', onVis);
    return () => { stop = true; clearTimeout(t); document.removeEventListener('visibilitychange', onVis); };
  }, [win]);
  const sdks = view?.sdks || [];
  const problems = sdks.filter((g) => g.problem);
  return (
    <Page title="Connected SDKs" actions={<Busy onClick={load} busyText="Refreshing…">Refresh</Busy>}>
      <p class="muted">Streaming connections to this environment now, as the edges report them (every 5 s; an edge silent for three reports is left out). Refreshed every {REFRESH / 1000} s while this page is visible{at ? `; last at ${new Date(at).toISOString().slice(11, 19)} UTC` : ''}.</p>
      <div class="filters">
        <Select label="Flag secrets that expire within" value={win} onChange={setWin} options={WINDOWS} err={err} field="window" />
      </div>
      <FormError err={err} fields={['window']} />
      {!view ? (err ? null : <Spinner />) : <>
        <p class="verdict" data-testid="sdk-total" role="status">
          {view.connections.total === 0 ? 'No SDKs are connected to this environment.'
            : <><b>{num(view.connections.total)}</b> {view.connections.total === 1 ? 'connection' : 'connections'}: {num(view.connections.server)} server, {num(view.connections.client)} client, on {(view.edges || []).length} {(view.edges || []).length === 1 ? 'edge' : 'edges'}.</>}
        </p>
        {view.expiring > 0 && <p class="notice" role="alert">{num(view.expiring)} connections use a secret that expires within {WINDOWS.find((w) => w.value === win)?.label}: rotate the secret and update those SDKs (SDK keys page).</p>}
        {problems.length > 0 && <p class="notice" role="alert">{problems.map((g) => `${sdkName(g.sdk)}: ${g.problem}`).join(' · ')}</p>}
        <section class="card" aria-labelledby="h-sdks-all">
          <h2 id="h-sdks-all">By SDK, across edges</h2>
          <Groups groups={sdks} label="Connections by SDK" />
        </section>
        <section class="card" aria-labelledby="h-sdks-edges">
          <h2 id="h-sdks-edges">By edge</h2>
          {(view.edges || []).length === 0 ? <p class="muted">No edge reports connections for this environment.</p>
            : (view.edges || []).map((e) => (
              <div key={e.edge} class="edge-view">
                <h3><span class="mono">{edgeName(e.edge)}</span> <span class="muted">· {num(e.connections.total)} {e.connections.total === 1 ? 'connection' : 'connections'} · environment version {e.envVersion}</span></h3>
                <Groups groups={e.sdks || []} label={`Connections on ${edgeName(e.edge)}`} />
              </div>))}
        </section>
      </>}
    </Page>
  );
}
