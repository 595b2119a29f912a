// pages/experiments.tsx: metrics, experiment set-up (flag, metrics,
// baseline), start / stop / delete, and results (analytics' statistics) as
// a table and a chart.
import { useEffect, useState } from 'preact/hooks';
import { analyticsError, api, Env, Experiment, ExperimentResult, Flag, Metric } from '../api';
import { BarChart, PALETTE } from '../chart';
import { Busy, errorFor, Field, FieldError, FormError, Page, Select, Spinner, fmtTime, useSession } from '../ui';
import { ReadOnlyNote, useCan } from '../perm';

const pct = (v: number | null | undefined, d = 1) => (v == null ? '—' : (v * 100).toFixed(d) + '%');
const num = (v: number | null | undefined, d = 3) => (v == null ? '—' : String(Math.round(v * 10 ** d) / 10 ** d));

export function Experiments({ env }: { env: Env }) {
  const s = useSession();
  const can = useCan({ env: env.id });
  const [xs, setXs] = useState<Experiment[] | null>(null);
  const [flags, setFlags] = useState<Flag[]>([]);
  const [metrics, setMetrics] = useState<Metric[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [open, setOpen] = useState('');
  const load = () => Promise.all([api.experiments(env.id), api.flags(env.id, { status: 'all', limit: 1000 }), api.metrics(env.id)])
    .then(([x, f, m]) => { setXs(x.items); setFlags(f.items); setMetrics(m.items); }).catch(setErr);
  useEffect(() => { load(); }, []);
  const flagOf = (id: string) => flags.find((f) => f.id === id);
  const act = async (f: () => Promise<unknown>) => { setErr(null); try { await f(); await load(); } catch (e) { setErr(e); } };
  return (
    <Page title="Experiments">
      <ReadOnlyNote can={can} action="experiment:write" what="experiments and metrics" />
      <FormError err={err} />
      {!xs ? <Spinner /> : (
        <table class="list">
          <thead><tr><th>Flag</th><th>Metrics</th><th>Baseline</th><th>Status</th><th>Started</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {xs.map((x) => {
              const f = flagOf(x.flagId);
              const base = f?.variations.find((v) => v.id === x.baselineVariationId);
              return <>
                <tr key={x.id}>
                  <td>{f ? f.name : x.flagId}</td>
                  <td>{x.metricIds.map((id) => metrics.find((m) => m.id === id)?.name || id).join(', ')}</td>
                  <td>{base ? base.name || base.value : x.baselineVariationId}</td>
                  <td><span class={'badge ' + (x.status === 'running' ? 'ok' : '')}>{x.status.replace('_', ' ')}</span></td>
                  <td class="muted">{fmtTime(x.startedAt)}</td>
                  <td class="buttons">
                    <button type="button" class="small" aria-expanded={open === x.id ? 'true' : 'false'} onClick={() => setOpen(open === x.id ? '' : x.id)}>Results</button>
                    {can('experiment:write') && x.status !== 'running' && <Busy class="small" onClick={() => act(() => api.experimentAction(env.id, x.id, 'start', x.version))} busyText="Starting…">Start</Busy>}
                    {can('experiment:write') && x.status === 'running' && <Busy class="small" onClick={() => act(() => api.experimentAction(env.id, x.id, 'stop', x.version))} busyText="Stopping…">Stop</Busy>}
                    {can('experiment:write') && x.status !== 'running' && <Busy class="small danger" onClick={() => act(() => api.deleteExperiment(env.id, x.id))} busyText="Deleting…">Delete</Busy>}
                  </td>
                </tr>
                {open === x.id && f && <tr key={x.id + '-r'}><td colSpan={6}><Results env={env} x={x} flag={f} metrics={metrics} /></td></tr>}
              </>;
            })}
            {xs.length === 0 && <tr><td colSpan={6} class="muted">No experiments yet.</td></tr>}
          </tbody>
        </table>
      )}
      {can('experiment:write') && <CreateExperiment env={env} flags={flags.filter((f) => !f.isArchived)} metrics={metrics} onDone={load} />}
      <MetricsCard env={env} metrics={metrics} onDone={load} />
    </Page>
  );
}

function CreateExperiment({ env, flags, metrics, onDone }: { env: Env; flags: Flag[]; metrics: Metric[]; onDone: () => void }) {
  const [flagId, setFlagId] = useState('');
  const [sel, setSel] = useState<string[]>([]);
  const [base, setBase] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const flag = flags.find((f) => f.id === flagId);
  return (
    <form class="card" aria-label="Create experiment" onSubmit={(e) => e.preventDefault()}>
      <h2>New experiment</h2>
      <div class="row">
        <Select label="Experiment flag" value={flagId} err={err} field="flagId" onChange={(v) => { setFlagId(v); setBase(''); }}
          options={[{ value: '', label: 'choose a flag…' }, ...flags.map((f) => ({ value: f.id, label: f.name }))]} />
        <Select label="Baseline variation" value={base} err={err} field="baselineVariationId" onChange={setBase}
          options={[{ value: '', label: 'first variation' }, ...(flag?.variations || []).map((v) => ({ value: v.id, label: v.name || v.value }))]} />
      </div>
      <fieldset>
        <legend>Metrics</legend>
        {metrics.length === 0 && <p class="muted">Create a metric first (below).</p>}
        {metrics.map((m) => (
          <label key={m.id} class="check"><input type="checkbox" checked={sel.includes(m.id)}
            onChange={(e) => setSel((e.target as HTMLInputElement).checked ? [...sel, m.id] : sel.filter((x) => x !== m.id))} /> {m.name} <span class="muted">({m.eventName}, {m.customEventTrackOption})</span></label>
        ))}
        <FieldError id="x-metrics-err" msg={errorFor(err, 'metricIds', true)} />
      </fieldset>
      <FormError err={err} fields={['flagId', 'baselineVariationId', 'metricIds']} />
      <Busy type="submit" class="primary" onClick={async () => {
        setErr(null);
        try { await api.createExperiment(env.id, { flagId, metricIds: sel, baselineVariationId: base }); setFlagId(''); setSel([]); onDone(); }
        catch (e) { setErr(e); }
      }} busyText="Creating…">Create experiment</Busy>
    </form>
  );
}

function MetricsCard({ env, metrics, onDone }: { env: Env; metrics: Metric[]; onDone: () => void }) {
  const s = useSession();
  const can = useCan({ env: env.id });
  const [m, setM] = useState({ name: '', eventName: '', customEventTrackOption: 'conversion', description: '' });
  const [err, setErr] = useState<unknown>(null);
  return (
    <section class="card">
      <h2>Metrics</h2>
      <table class="list compact">
        <thead><tr><th>Name</th><th>Event</th><th>Kind</th></tr></thead>
        <tbody>{metrics.map((x) => <tr key={x.id}><td>{x.name}</td><td class="mono">{x.eventName}</td><td>{x.customEventTrackOption}</td></tr>)}
          {metrics.length === 0 && <tr><td colSpan={3} class="muted">No metrics.</td></tr>}</tbody>
      </table>
      {can('experiment:write') && <form aria-label="Create metric" onSubmit={(e) => e.preventDefault()}>
        <div class="row">
          <Field label="Metric name" value={m.name} onInput={(v) => setM({ ...m, name: v })} err={err} field="name" />
          <Field label="Event name" value={m.eventName} onInput={(v) => setM({ ...m, eventName: v })} err={err} field="eventName" hint="The name SDKs track." />
          <Select label="Metric kind" value={m.customEventTrackOption} onChange={(v) => setM({ ...m, customEventTrackOption: v })} err={err} field="customEventTrackOption"
            options={[{ value: 'conversion', label: 'conversion' }, { value: 'numeric', label: 'numeric' }]} />
        </div>
        <FormError err={err} fields={['name', 'eventName', 'customEventTrackOption']} />
        <Busy type="submit" onClick={async () => {
          setErr(null);
          try { await api.createMetric(env.id, { ...m, eventType: 'custom' }); setM({ name: '', eventName: '', customEventTrackOption: 'conversion', description: '' }); onDone(); }
          catch (e) { setErr(e); }
        }} busyText="Creating…">Create metric</Busy>
      </form>}
    </section>
  );
}

function Results({ env, x, flag, metrics }: { env: Env; x: Experiment; flag: Flag; metrics: Metric[] }) {
  const [res, setRes] = useState<ExperimentResult | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const name = (id: string) => { const v = flag.variations.find((y) => y.id === id); return v ? v.name || v.value : id; };
  const load = async () => {
    setLoading(true); setErr(null);
    const ms = x.metricIds.map((id) => metrics.find((m) => m.id === id)).filter((m): m is Metric => !!m)
      .map((m) => ({ eventName: m.eventName, type: m.customEventTrackOption }));
    try {
      setRes(await api.experimentResult(env.id, flag.key, {
        baselineVariationId: x.baselineVariationId, metrics: ms,
        from: x.startedAt || x.createdAt, to: x.stoppedAt || Date.now(),
      }));
    } catch (e) { setErr(analyticsError(e)); } finally { setLoading(false); }
  };
  useEffect(() => { load(); }, [x.id, x.version]);
  if (loading) return <Spinner label="Computing results…" />;
  if (err) return <FormError err={err} />;
  if (!res) return null;
  return (
    <div class="results" aria-label={`Results of the experiment on ${flag.name}`}>
      <p class="muted">From {fmtTime(res.from)} to {fmtTime(res.to)} · confidence {pct(res.confidence, 0)} ·{' '}
        exposures: {res.exposures.map((e) => `${name(e.variationId)} ${e.users}`).join(', ') || 'none'}
        {' '}<button type="button" class="small" onClick={load}>Refresh</button></p>
      {res.srm.mismatch && <p class="notice" role="alert">Sample-ratio mismatch (p = {num(res.srm.pValue)}): users are not split as configured; results may be biased.</p>}
      {res.metrics.map((m) => {
        const conv = m.type === 'conversion';
        const f = conv ? (v: number) => pct(v) : (v: number) => num(v, 2);
        return (
          <div key={m.eventName} class="metric-result">
            <h3>{m.eventName} <span class="muted">({m.type})</span></h3>
            <BarChart label={`${m.eventName}: ${conv ? 'conversion rate' : 'mean'} per variation`} format={f}
              bars={m.variations.map((v, i) => {
                const sd = v.stdDev ?? null, n = v.samples || 0;
                const half = sd != null && n > 1 && v.value != null ? 1.96 * sd / Math.sqrt(n) : null;
                return { name: name(v.variationId), value: v.value, lo: half != null ? v.value! - half : null, hi: half != null ? v.value! + half : null, color: PALETTE[i % PALETTE.length], baseline: v.isBaseline };
              })} />
            <table class="list compact">
              <thead><tr><th>Variation</th><th>Exposed</th>{conv && <th>Converted</th>}<th>{conv ? 'Rate' : 'Mean'}</th><th>Uplift</th><th>Uplift CI</th><th>p-value</th><th>P(beat baseline)</th><th>Significant</th></tr></thead>
              <tbody>{m.variations.map((v) => (
                <tr key={v.variationId}>
                  <td>{name(v.variationId)}{v.isBaseline && <span class="badge">baseline</span>}</td>
                  <td>{v.exposed}</td>{conv && <td>{v.converted}</td>}<td>{v.value == null ? '—' : f(v.value)}</td>
                  <td>{v.isBaseline ? '—' : pct(v.uplift)}</td>
                  <td>{v.isBaseline ? '—' : `${pct(v.upliftCi?.[0])} … ${pct(v.upliftCi?.[1])}`}</td>
                  <td>{v.isBaseline ? '—' : num(v.pValue)}</td>
                  <td>{v.isBaseline ? '—' : pct(v.probabilityToBeatBaseline)}</td>
                  <td>{v.isBaseline ? '—' : v.significant ? 'yes' : 'no'}</td>
                </tr>
              ))}</tbody>
            </table>
          </div>
        );
      })}
    </div>
  );
}
