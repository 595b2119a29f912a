// impact.tsx: the blast-radius preview (docs/delivery.md): before a flag
// change is saved or a change request approved, how many of the
// environment's end users seen in a window the proposed flag would serve a
// different variation, from which to which, why, and sample users. The
// answer is streamed (application/x-ndjson) so large populations show
// progress.
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiPaths, ApiError, Env, getToken } from './api';
import { Busy, FormError, Select } from './ui';

export const IMPACT_ROUTE = '/api/v1/envs/{envId}/flags/{key}/impact';

export interface ImpactVariation { id: string; name: string; value: string }
export interface ImpactTransition {
  from: ImpactVariation | null; to: ImpactVariation | null; count: number;
  reasons: { reason: string; count: number }[] | null; samples: string[] | null;
}
export interface ImpactResult {
  users: number; changed: number; transitions: ImpactTransition[] | null;
  served: { variation: ImpactVariation | null; before: number; after: number }[] | null; tookMs: number;
}

const WINDOWS = [
  { value: '168h', label: 'last 7 days' },
  { value: '720h', label: 'last 30 days' },
  { value: '2160h', label: 'last 90 days' },
];
const SAMPLES = 5;
const num = (n: number) => n.toLocaleString('en-US');
const vlabel = (v: ImpactVariation | null) => (v ? v.name || v.value : 'no variation (the SDK default)');

// apiError turns an error answer into an ApiError (as api.ts does).
async function apiError(res: Response): Promise<ApiError> {
  let e: any = null;
  try { e = (await res.json()).error; } catch { /* not JSON */ }
  if (e && typeof e === 'object') return new ApiError(res.status, e.code || 'error', e.message || res.statusText, e.field || '');
  return new ApiError(res.status, 'error', `${res.status} ${res.statusText}`);
}

// previewImpact posts the proposed flag and reads the streamed answer,
// calling onProgress with the number of users evaluated so far.
export async function previewImpact(envId: string, key: string, flag: unknown, seenWithin: string,
  onProgress: (users: number) => void, signal?: AbortSignal): Promise<ImpactResult> {
  const headers: Record<string, string> = { Accept: 'application/x-ndjson', 'Content-Type': 'application/json' };
  const tok = getToken();
  if (tok) headers.Authorization = 'Bearer ' + tok;
  let res: Response;
  try {
    res = await fetch(`/api/v1/envs/${encodeURIComponent(envId)}/flags/${encodeURIComponent(key)}/impact`, {
      method: 'POST', headers, signal, body: JSON.stringify({ flag, seenWithin, samples: SAMPLES }),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'cannot reach the server: ' + (e as Error).message);
  }
  if (!res.ok) throw await apiError(res);
  if (!(res.headers.get('Content-Type') || '').includes('ndjson')) return await res.json() as ImpactResult;
  if (!res.body) throw new ApiError(0, 'network', 'the preview answer has no body');
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      const m = JSON.parse(line);
      if (m.progress) onProgress(m.progress.users);
      else if (m.result) return m.result as ImpactResult;
      else if (m.error) throw new ApiError(500, m.error.code || 'failed', m.error.message || 'the preview failed');
    }
    if (done) break;
  }
  throw new ApiError(0, 'network', 'the preview answer ended without a result');
}

// ImpactPreview is the "Preview impact" action and its result for a
// proposed state of the flag with key flagKey. A result computed for an
// earlier draft is marked as out of date.
export function ImpactPreview({ env, flagKey, proposed, title = 'Impact of these changes' }: {
  env: Env; flagKey: string; proposed: unknown; title?: string;
}) {
  const [available, setAvailable] = useState(false);
  const [win, setWin] = useState('720h');
  const [progress, setProgress] = useState(-1);
  const [res, setRes] = useState<{ r: ImpactResult; of: string; window: string } | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => {
    apiPaths().then((p) => setAvailable(p.has(IMPACT_ROUTE)));
    return () => abort.current?.abort(); // leaving the page ends a running preview
  }, []);
  if (!available) return null;
  const draft = JSON.stringify(proposed);
  const run = async () => {
    setErr(null); setProgress(0);
    const ac = new AbortController();
    abort.current = ac;
    try {
      const r = await previewImpact(env.id, flagKey, proposed, win, setProgress, ac.signal);
      setRes({ r, of: draft, window: win });
    } catch (e) {
      setErr(ac.signal.aborted ? new ApiError(0, 'cancelled', 'The preview was cancelled.') : e);
    } finally { setProgress(-1); abort.current = null; }
  };
  const r = res?.r;
  const stale = !!res && (res.of !== draft || res.window !== win);
  const wlabel = WINDOWS.find((w) => w.value === (res?.window || win))?.label || win;
  return (
    <section class="card impact" aria-labelledby="h-impact">
      <h2 id="h-impact">{title}</h2>
      <p class="muted">Evaluates the proposed flag and the saved one for every end user seen in the window (the edge's evaluator over their stored properties); nothing is saved.</p>
      <div class="row">
        <Select label="End users seen in the" value={win} onChange={setWin} options={WINDOWS} />
        <Busy onClick={run} busyText="Previewing…">Preview impact</Busy>
        {progress >= 0 && <button type="button" onClick={() => abort.current?.abort()}>Cancel preview</button>}
      </div>
      <p role="status" aria-live="polite" class="muted">{progress >= 0 ? `Evaluated ${num(progress)} end users…` : ''}</p>
      <FormError err={err} />
      {r && <div role="region" aria-label="Impact preview result" class={stale ? 'stale' : ''}>
        {stale && <p class="notice">The draft or the window changed since this preview: preview again.</p>}
        <p class="verdict" data-testid="impact-summary">
          <b data-testid="impact-changed">{num(r.changed)}</b> of <b data-testid="impact-users">{num(r.users)}</b> end users seen in the {wlabel} would be served a different variation
          <span class="muted"> ({r.tookMs} ms)</span>.
        </p>
        {(r.transitions || []).length > 0 && <table class="list" aria-label="Variation changes">
          <thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">End users</th><th scope="col">Why (proposed flag)</th><th scope="col">Sample end users</th></tr></thead>
          <tbody>{(r.transitions || []).map((t, i) => (
            <tr key={i}>
              <td>{vlabel(t.from)}</td>
              <td>{vlabel(t.to)}</td>
              <td data-testid="impact-count">{num(t.count)}</td>
              <td>{(t.reasons || []).map((x) => `${x.reason} (${num(x.count)})`).join(', ')}</td>
              <td class="samples">{(t.samples || []).map((k) => <a key={k} class="mono" href={`/envs/${env.id}/end-users?q=${encodeURIComponent(k)}`}>{k}</a>)}</td>
            </tr>))}
          </tbody>
        </table>}
        {(r.served || []).length > 0 && <table class="list" aria-label="Served before and after">
          <thead><tr><th scope="col">Variation</th><th scope="col">Now</th><th scope="col">After the change</th></tr></thead>
          <tbody>{(r.served || []).map((s, i) => (
            <tr key={i}><td>{vlabel(s.variation)}</td><td>{num(s.before)}</td><td>{num(s.after)}</td></tr>))}
          </tbody>
        </table>}
      </div>}
    </section>
  );
}
