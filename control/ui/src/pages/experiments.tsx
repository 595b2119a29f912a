// pages/experiments.tsx: metrics (kind, event type with URL / selector,
// direction, guardrail), experiment set-up (flag, baseline, primary and
// other metrics, analysis), start / stop / delete, results from control's
// results route (the expected split comes from the flag's rollout) as a
// table and a chart, shipping a variation, and the guarded rollouts.
import { useEffect, useState } from 'preact/hooks';
import { api, Env, Experiment, ExperimentResults, exptApi, Flag, Metric } from '../api';
import { BarChart, PALETTE } from '../chart';
import { runningExperimentFlags } from '../expttraffic';
import { Rollouts } from './rollouts';
import { Busy, errorFor, Field, FieldError, FormError, Page, Select, Spinner, fmtTime, usePermissions } from '../ui';

const pct = (v: number | null | undefined, d = 1) => (v == null ? '—' : (v * 100).toFixed(d) + '%');
const num = (v: number | null | undefined, d = 3) => (v == null ? '—' : String(Math.round(v * 10 ** d) / 10 ** d));

export function Experiments({ env }: { env: Env }) {
  const can = usePermissions(env);
  const canEdit = can('experiment:write');
  const [xs, setXs] = useState<Experiment[] | null>(null);
  const [flags, setFlags] = useState<Flag[]>([]);
  const [metrics, setMetrics] = useState<Metric[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [open, setOpen] = useState('');
  const load = () => Promise.all([api.experiments(env.id), api.flags(env.id, { status: 'all', limit: 1000 }), api.metrics(env.id)])
    .then(([x, f, m]) => { setXs(x.items); setFlags(f.items); setMetrics(m.items); runningExperimentFlags(env.id, true); }).catch(setErr);
  useEffect(() => { load(); }, []);
  const flagOf = (id: string) => flags.find((f) => f.id === id);
  const act = async (f: () => Promise<unknown>) => { setErr(null); try { await f(); await load(); } catch (e) { setErr(e); } };
  return (
    <Page title="Experiments">
      <FormError err={err} />
      {!xs ? <Spinner /> : (
        <table class="list" aria-label="Experiments">
          <thead><tr><th>Flag</th><th>Metrics</th><th>Baseline</th><th>Status</th><th>Started</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {xs.map((x) => {
              const f = flagOf(x.flagId);
              const vname = (id: string) => { const v = f?.variations.find((y) => y.id === id); return v ? v.name || v.value : id; };
              return <>
                <tr key={x.id}>
                  <td>{f ? f.name : x.flagId}</td>
                  <td>{x.metricIds.map((id) => metrics.find((m) => m.id === id)?.name || id).join(', ')}</td>
                  <td>{vname(x.baselineVariationId)}</td>
                  <td><span class={'badge ' + (x.status === 'running' ? 'ok' : '')}>{x.status.replace('_', ' ')}</span>
                    {x.shippedVariationId && <span class="badge">shipped {vname(x.shippedVariationId)}</span>}</td>
                  <td class="muted">{fmtTime(x.startedAt)}</td>
                  <td class="buttons">
                    {x.startedAt > 0 && <button type="button" class="small" aria-expanded={open === x.id ? 'true' : 'false'} onClick={() => setOpen(open === x.id ? '' : x.id)}>Results</button>}
                    {canEdit && x.status !== 'running' && <Busy class="small" onClick={() => act(() => api.experimentAction(env.id, x.id, 'start', x.version))} busyText="Starting…">Start</Busy>}
                    {canEdit && x.status === 'running' && <Busy class="small" onClick={() => act(() => api.experimentAction(env.id, x.id, 'stop', x.version))} busyText="Stopping…">Stop</Busy>}
                    {canEdit && x.status !== 'running' && <Busy class="small danger" onClick={() => act(() => api.deleteExperiment(env.id, x.id))} busyText="Deleting…">Delete</Busy>}
                  </td>
                </tr>
                {open === x.id && f && <tr key={x.id + '-r'}><td colSpan={6}><Results env={env} x={x} flag={f} canShip={can('flag:write')} onShipped={load} /></td></tr>}
              </>;
            })}
            {xs.length === 0 && <tr><td colSpan={6} class="muted">No experiments yet.</td></tr>}
          </tbody>
        </table>
      )}
      {canEdit && <CreateExperiment env={env} flags={flags.filter((f) => !f.isArchived)} metrics={metrics} onDone={load} />}
      <MetricsCard env={env} metrics={metrics} canEdit={canEdit} onDone={load} />
      <Rollouts env={env} flags={flags.filter((f) => !f.isArchived)} metrics={metrics} canStart={can('flag:write')} />
    </Page>
  );
}

// trafficNote says how much of the flag sends users to experiments.
function trafficNote(f: Flag): string {
  const rules = f.rules.filter((r) => r.includedInExpt).length;
  const def = f.fallthrough.includedInExpt;
  if (!rules && !def) return 'No rule of this flag sends users to experiments: set a rule\'s or the default rule\'s experiment traffic on the flag first, or the experiment gets no exposures.';
  return `In the experiment: ${rules} of ${f.rules.length} rules${def ? ' and the default rule' : ''}.`;
}

function CreateExperiment({ env, flags, metrics, onDone }: { env: Env; flags: Flag[]; metrics: Metric[]; onDone: () => void }) {
  const [flagId, setFlagId] = useState('');
  const [primary, setPrimary] = useState('');
  const [sel, setSel] = useState<string[]>([]);
  const [base, setBase] = useState('');
  const [seq, setSeq] = useState('true');
  const [corr, setCorr] = useState('holm');
  const [err, setErr] = useState<unknown>(null);
  const flag = flags.find((f) => f.id === flagId);
  const ids = primary ? [primary, ...sel.filter((x) => x !== primary)] : sel;
  return (
    <form class="card" aria-label="Create experiment" onSubmit={(e) => e.preventDefault()}>
      <h2>New experiment</h2>
      <div class="row">
        <Select label="Experiment flag" value={flagId} err={err} field="flagId" onChange={(v) => { setFlagId(v); setBase(''); }}
          options={[{ value: '', label: 'choose a flag…' }, ...flags.map((f) => ({ value: f.id, label: f.name }))]} />
        <Select label="Baseline variation" value={base} err={err} field="baselineVariationId" onChange={setBase}
          options={[{ value: '', label: 'first variation' }, ...(flag?.variations || []).map((v) => ({ value: v.id, label: v.name || v.value }))]} />
      </div>
      {flag && <p class="muted" role="status" aria-label="Experiment traffic of the flag">{trafficNote(flag)}</p>}
      <div class="row">
        <Select label="Primary metric" value={primary} err={err} field="metricIds[0]" onChange={setPrimary}
          options={[{ value: '', label: 'choose…' }, ...metrics.map((m) => ({ value: m.id, label: m.name + (m.guardrail ? ' (guardrail)' : '') }))]} />
        <Select label="Sequential testing" value={seq} onChange={setSeq}
          options={[{ value: 'true', label: 'on: peeking is safe (mSPRT)' }, { value: 'false', label: 'off: fixed-horizon test' }]} />
        <Select label="Correction across metrics" value={corr} err={err} field="correction" onChange={setCorr}
          options={[{ value: 'holm', label: 'Holm' }, { value: 'bh', label: 'Benjamini–Hochberg' }, { value: 'none', label: 'none' }]} />
      </div>
      <fieldset>
        <legend>Other metrics</legend>
        {metrics.length === 0 && <p class="muted">Create a metric first (below).</p>}
        {metrics.filter((m) => m.id !== primary).map((m) => (
          <label key={m.id} class="check"><input type="checkbox" checked={sel.includes(m.id)}
            onChange={(e) => setSel((e.target as HTMLInputElement).checked ? [...sel, m.id] : sel.filter((x) => x !== m.id))} /> {m.name}{' '}
            <span class="muted">({m.eventName}, {m.customEventTrackOption}{m.customEventSuccessCriteriaLower ? ', lower is better' : ''}{m.guardrail ? ', guardrail' : ''})</span></label>
        ))}
        <FieldError id="x-metrics-err" msg={errorFor(err, 'metricIds', true)} />
      </fieldset>
      <FormError err={err} fields={['flagId', 'baselineVariationId', 'metricIds', 'correction']} />
      <Busy type="submit" class="primary" onClick={async () => {
        setErr(null);
        try {
          await exptApi.create(env.id, { flagId, metricIds: ids, baselineVariationId: base, sequential: seq === 'true', correction: corr });
          setFlagId(''); setSel([]); setPrimary(''); onDone();
        } catch (e) { setErr(e); }
      }} busyText="Creating…">Create experiment</Busy>
    </form>
  );
}

const EMPTY_METRIC = { name: '', eventName: '', customEventTrackOption: 'conversion', eventType: 'custom', customEventSuccessCriteria: 'higher', guardrail: false, url: '', matchType: 'contains', elementTargets: '' };

function MetricsCard({ env, metrics, canEdit, onDone }: { env: Env; metrics: Metric[]; canEdit: boolean; onDone: () => void }) {
  const [m, setM] = useState(EMPTY_METRIC);
  const [err, setErr] = useState<unknown>(null);
  const web = m.eventType !== 'custom';
  return (
    <section class="card">
      <h2>Metrics</h2>
      <table class="list compact" aria-label="Metrics">
        <thead><tr><th>Name</th><th>Event</th><th>Kind</th><th>Better</th><th>Guardrail</th></tr></thead>
        <tbody>{metrics.map((x) => <tr key={x.id}><td>{x.name}</td><td class="mono">{x.eventName}{x.eventType !== 'custom' && ` (${x.eventType})`}</td>
          <td>{x.customEventTrackOption}</td><td>{x.customEventSuccessCriteriaLower ? 'lower' : 'higher'}</td><td>{x.guardrail ? 'yes' : ''}</td></tr>)}
          {metrics.length === 0 && <tr><td colSpan={5} class="muted">No metrics.</td></tr>}</tbody>
      </table>
      {canEdit && <form aria-label="Create metric" onSubmit={(e) => e.preventDefault()}>
        <div class="row">
          <Field label="Metric name" value={m.name} onInput={(v) => setM({ ...m, name: v })} err={err} field="name" />
          <Field label="Event name" value={m.eventName} onInput={(v) => setM({ ...m, eventName: v })} err={err} field="eventName" hint="The name SDKs track." />
          <Select label="Event type" value={m.eventType} onChange={(v) => setM({ ...m, eventType: v, customEventTrackOption: v === 'custom' ? m.customEventTrackOption : 'conversion' })} err={err} field="eventType"
            options={[{ value: 'custom', label: 'custom event' }, { value: 'pageview', label: 'page view' }, { value: 'click', label: 'click' }]} />
          {!web && <Select label="Metric kind" value={m.customEventTrackOption} onChange={(v) => setM({ ...m, customEventTrackOption: v })} err={err} field="customEventTrackOption"
            options={[{ value: 'conversion', label: 'conversion' }, { value: 'numeric', label: 'numeric' }]} />}
          <Select label="Better is" value={m.customEventSuccessCriteria} onChange={(v) => setM({ ...m, customEventSuccessCriteria: v })} err={err} field="customEventSuccessCriteria"
            options={[{ value: 'higher', label: 'higher' }, { value: 'lower', label: 'lower' }]} />
        </div>
        {web && <div class="row">
          <Select label="URL match" value={m.matchType} onChange={(v) => setM({ ...m, matchType: v })}
            options={[{ value: 'contains', label: 'contains' }, { value: 'exact', label: 'exact' }, { value: 'regex', label: 'regex' }]} />
          <Field label="Target URL" value={m.url} onInput={(v) => setM({ ...m, url: v })} err={err} field="targetUrls[0].url" class="grow" />
          {m.eventType === 'click' && <Field label="CSS selector" value={m.elementTargets} onInput={(v) => setM({ ...m, elementTargets: v })} err={err} field="elementTargets" />}
        </div>}
        <label class="check"><input type="checkbox" checked={m.guardrail} onChange={(e) => setM({ ...m, guardrail: (e.target as HTMLInputElement).checked })} /> Guardrail: flag harm in the worse direction</label>
        <FormError err={err} fields={['name', 'eventName', 'eventType', 'customEventTrackOption', 'customEventSuccessCriteria', 'targetUrls', 'elementTargets']} />
        <Busy type="submit" onClick={async () => {
          setErr(null);
          const { url, matchType, ...rest } = m;
          try {
            await api.createMetric(env.id, { ...rest, targetUrls: web ? [{ matchType, url }] : [], elementTargets: m.eventType === 'click' ? m.elementTargets : '' });
            setM(EMPTY_METRIC); onDone();
          } catch (e) { setErr(e); }
        }} busyText="Creating…">Create metric</Busy>
      </form>}
    </section>
  );
}

function Results({ env, x, flag, canShip, onShipped }: { env: Env; x: Experiment; flag: Flag; canShip: boolean; onShipped: () => void }) {
  const [out, setOut] = useState<ExperimentResults | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [ship, setShip] = useState('');
  const name = (id: string) => { const v = flag.variations.find((y) => y.id === id); return v ? v.name || v.value : id; };
  const load = async () => {
    setLoading(true); setErr(null);
    try {
      const r = await exptApi.results(env.id, x.id);
      setOut(r);
      const w = r.results.metrics[0]?.winner;
      if (w && !ship) setShip(w);
    } catch (e) { setErr(e); } finally { setLoading(false); }
  };
  useEffect(() => {
    load();
    // watching a running experiment: the page refreshes itself every 30 s
    if (x.status !== 'running') return;
    const t = setInterval(load, 30000);
    return () => clearInterval(t);
  }, [x.id, x.version]);
  if (loading && !out) return <Spinner label="Computing results…" />;
  if (err && !out) return <FormError err={err} />;
  if (!out) return null;
  const res = out.results;
  const split = out.expectedSplit;
  const harmed = res.harmedGuardrails || [];
  const winner = res.metrics[0]?.winner;
  return (
    <div class="results" role="region" aria-label={`Results of the experiment on ${flag.name}`} aria-busy={loading ? 'true' : undefined}>
      <p class="muted">From {fmtTime(res.from)} to {fmtTime(res.to)} · confidence {pct(res.confidence, 0)} · {res.sequential ? 'sequential (always valid)' : 'fixed horizon'} ·{' '}
        exposures: <span data-testid="exposures">{res.exposures.map((e) => `${name(e.variationId)} ${e.users}`).join(', ') || 'none'}</span>
        {' '}<button type="button" class="small" onClick={load}>Refresh</button></p>
      <p class="muted" data-testid="expected-split">Expected split (from the flag's rollout): {split ? Object.entries(split).map(([k, v]) => `${name(k)} ${pct(v)}`).join(', ') : out.splitNote || 'unknown'}
        {split && out.splitNote ? ` (${out.splitNote})` : ''}</p>
      {res.srm.mismatch
        ? <p class="notice" role="alert" data-testid="srm">Sample-ratio mismatch (p = {num(res.srm.pValue, 6)}): users are not split as configured; results may be biased.</p>
        : <p class="muted" data-testid="srm">{res.srm.pValue != null ? `Sample ratio as configured (p = ${num(res.srm.pValue)}).` : 'Sample ratio not checked.'}</p>}
      {harmed.length > 0 && <p class="notice" role="alert">Guardrail harmed: {harmed.join(', ')}.</p>}
      <p data-testid="winner">{winner ? <>Winner on the primary metric: <strong>{name(winner)}</strong></> : 'No significant winner on the primary metric yet.'}</p>
      {canShip && !x.shippedVariationId && <div class="row" role="group" aria-label="Ship a variation">
        <Select label="Variation to ship" value={ship} onChange={setShip}
          options={[{ value: '', label: 'choose…' }, ...flag.variations.map((v) => ({ value: v.id, label: name(v.id) + (v.id === winner ? ' (winner)' : '') }))]} />
        <Busy disabled={!ship} onClick={async () => {
          setErr(null);
          try { await exptApi.ship(env.id, x.id, ship, flag.version); onShipped(); } catch (e) { setErr(e); }
        }} busyText="Shipping…">Ship to everyone in the experiment</Busy>
      </div>}
      <FormError err={err} />
      {res.metrics.map((m, mi) => {
        const conv = m.type === 'conversion';
        const f = conv ? (v: number) => pct(v) : (v: number) => num(v, 2);
        return (
          <div key={m.eventName} class="metric-result">
            <h3>{m.eventName} <span class="muted">({mi === 0 ? 'primary, ' : ''}{m.type}{m.lowerIsBetter ? ', lower is better' : ''}{m.guardrail ? ', guardrail' : ''})</span>
              {m.winner && <span class="badge ok">winner {name(m.winner)}</span>}</h3>
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
