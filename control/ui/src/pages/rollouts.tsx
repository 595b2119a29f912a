// pages/rollouts.tsx: guarded rollouts on the experiments page — start one
// (flag, rule or default rule, variation, guardrail metrics, stages), see
// each one's stage and last guardrail check, abort a running one.
import { useEffect, useState } from 'preact/hooks';
import { Env, exptApi, Flag, GuardedRollout, Metric } from '../api';
import { Busy, errorFor, Field, FieldError, FormError, Select, fmtTime } from '../ui';

// parseStages reads "1, 5, 25, 100" into stages holding holdMin minutes each.
function parseStages(text: string, holdMin: string) {
  const hold = Math.round(parseFloat(holdMin || '0') * 60);
  return text.split(/[,\s→>]+/).filter(Boolean).map((p) => ({ percent: parseFloat(p.replace('%', '')), holdSeconds: isNaN(hold) ? -1 : hold }));
}

export function Rollouts({ env, flags, metrics, canStart }: { env: Env; flags: Flag[]; metrics: Metric[]; canStart: boolean }) {
  const [items, setItems] = useState<GuardedRollout[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () => exptApi.rollouts(env.id).then((r) => setItems(r.items)).catch(setErr);
  useEffect(() => { load(); const t = setInterval(load, 15000); return () => clearInterval(t); }, []);
  const flagOf = (id: string) => flags.find((f) => f.id === id);
  return (
    <section class="card" aria-labelledby="h-rollouts">
      <h2 id="h-rollouts">Guarded rollouts</h2>
      <p class="muted">A variation reaches a rule's users stage by stage; each check compares it with the variation it replaces on the guardrail metrics
        (the experiment statistics), and a harmed guardrail rolls the rule back at once.</p>
      <FormError err={err} />
      <table class="list compact" aria-label="Guarded rollouts">
        <thead><tr><th>Flag</th><th>Rule</th><th>Variation</th><th>Stage</th><th>Status</th><th>Last check</th><th><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {(items || []).map((x) => {
            const f = flagOf(x.flagId);
            const vname = (id: string) => { const v = f?.variations.find((y) => y.id === id); return v ? v.name || v.value : id; };
            const rule = x.ruleId ? (f?.rules.find((r) => r.id === x.ruleId)?.name || x.ruleId) : 'default rule';
            const c = x.lastCheck;
            return (
              <tr key={x.id}>
                <td>{f ? f.name : x.flagKey}</td><td>{rule}</td><td>{vname(x.variationId)} <span class="muted">over {vname(x.baselineVariationId)}</span></td>
                <td>{x.stage + 1} of {x.stages.length} ({x.stages[x.stage]?.percent}%)</td>
                <td><span class={'badge ' + (x.status === 'running' ? 'ok' : x.status === 'rolled_back' ? 'bad' : '')}>{x.status.replace('_', ' ')}</span>
                  {x.reason && <div class="muted small">{x.reason}</div>}</td>
                <td class="muted">{c ? <>{fmtTime(c.at)}{c.error ? ` · ${c.error}` : ''}{c.exposures ? ' · ' + Object.entries(c.exposures).map(([k, n]) => `${vname(k)} ${n}`).join(', ') : ''}</> : '—'}</td>
                <td>{canStart && x.status === 'running' && <Busy class="small danger" label={`Abort the rollout on ${f ? f.name : x.flagKey}`} onClick={async () => {
                  setErr(null);
                  try { await exptApi.abortRollout(env.id, x.id); await load(); } catch (e) { setErr(e); }
                }} busyText="Aborting…">Abort</Busy>}</td>
              </tr>
            );
          })}
          {items && items.length === 0 && <tr><td colSpan={7} class="muted">No guarded rollouts.</td></tr>}
        </tbody>
      </table>
      {canStart && <StartRollout env={env} flags={flags.filter((f) => f.isEnabled)} metrics={metrics} onDone={load} />}
    </section>
  );
}

function StartRollout({ env, flags, metrics, onDone }: { env: Env; flags: Flag[]; metrics: Metric[]; onDone: () => void }) {
  const [flagId, setFlagId] = useState('');
  const [ruleId, setRuleId] = useState('default');
  const [variationId, setVariationId] = useState('');
  const [sel, setSel] = useState<string[]>([]);
  const [stages, setStages] = useState('1, 5, 25, 100');
  const [hold, setHold] = useState('60');
  const [every, setEvery] = useState('60');
  const [err, setErr] = useState<unknown>(null);
  const flag = flags.find((f) => f.id === flagId);
  return (
    <form aria-label="Start guarded rollout" onSubmit={(e) => e.preventDefault()}>
      <h3>New guarded rollout</h3>
      <div class="row">
        <Select label="Rollout flag" value={flagId} onChange={(v) => { setFlagId(v); setVariationId(''); setRuleId('default'); }}
          options={[{ value: '', label: 'choose an enabled flag…' }, ...flags.map((f) => ({ value: f.id, label: f.name }))]} />
        <Select label="Rollout rule" value={ruleId} err={err} field="ruleId" onChange={setRuleId}
          options={[{ value: 'default', label: 'default rule' }, ...(flag?.rules || []).map((r, i) => ({ value: r.id || '', label: r.name || `rule ${i + 1}` }))]} />
        <Select label="Variation to roll out" value={variationId} err={err} field="variationId" onChange={setVariationId}
          options={[{ value: '', label: 'choose…' }, ...(flag?.variations || []).map((v) => ({ value: v.id, label: v.name || v.value }))]} />
      </div>
      <div class="row">
        <Field label="Stages (percent)" value={stages} onInput={setStages} err={err} field="stages" hint="e.g. 1, 5, 25, 100" />
        <Field label="Minutes per stage" value={hold} onInput={setHold} type="number" />
        <Field label="Check every (seconds)" value={every} onInput={setEvery} type="number" err={err} field="checkEverySeconds" />
      </div>
      <fieldset>
        <legend>Guardrail metrics</legend>
        {metrics.map((m) => (
          <label key={m.id} class="check"><input type="checkbox" checked={sel.includes(m.id)}
            onChange={(e) => setSel((e.target as HTMLInputElement).checked ? [...sel, m.id] : sel.filter((x) => x !== m.id))} /> {m.name}{' '}
            <span class="muted">({m.customEventSuccessCriteriaLower ? 'lower' : 'higher'} is better)</span></label>
        ))}
        {metrics.length === 0 && <p class="muted">Create a metric first.</p>}
        <FieldError id="ro-metrics-err" msg={errorFor(err, 'metricIds', true)} />
      </fieldset>
      <FormError err={err} fields={['ruleId', 'variationId', 'stages', 'checkEverySeconds', 'metricIds']} />
      <FieldError id="ro-stages-err" msg={errorFor(err, 'stages', true)} />
      <Busy type="submit" class="primary" disabled={!flag} onClick={async () => {
        setErr(null);
        try {
          await exptApi.startRollout(env.id, flag!.key, { ruleId, variationId, baselineVariationId: '', metricIds: sel,
            stages: parseStages(stages, hold), checkEverySeconds: parseInt(every, 10) || 0 });
          setFlagId(''); setSel([]); onDone();
        } catch (e) { setErr(e); }
      }} busyText="Starting…">Start guarded rollout</Busy>
    </form>
  );
}
