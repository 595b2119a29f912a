// pages/flagextra.tsx: sections of the flag page beyond targeting: flag
// triggers, "schedule this draft" with the flag's scheduled changes, compare
// and copy parts across environments, and code references.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, CodeRef, Env, Flag, FlagCompare, Schedule, Trigger } from '../api';
import { Busy, CopyButton, Field, FormError, Select, Spinner, Switch, fmtTime, useSession } from '../ui';
import { ReadOnlyNote, useCan } from '../perm';

// ---- triggers ----

export function Triggers({ env, flag, onRun }: { env: Env; flag: Flag; onRun: () => void }) {
  const s = useSession();
  const can = useCan({ env: env.id });
  const [items, setItems] = useState<Trigger[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [formErr, setFormErr] = useState<unknown>(null);
  const [action, setAction] = useState('on');
  const [desc, setDesc] = useState('');
  const [shown, setShown] = useState<{ label: string; url: string } | null>(null);
  const load = () => api.triggers(env.id, flag.key).then((r) => { setItems(r.items); setErr(null); }).catch(setErr);
  useEffect(() => { load(); }, [flag.version]);
  const full = (u: string) => location.origin + u;
  const name = (t: Trigger) => `${t.action === 'on' ? 'turn on' : 'turn off'} ${t.prefix}`;
  return (
    <section class="card" aria-labelledby="h-triggers">
      <h2 id="h-triggers">Triggers</h2>
      <p class="muted">A trigger is a secret URL: a POST to it (from CI, monitoring, a chat bot — no other credential) turns this flag on or off.</p>
      <ReadOnlyNote can={can} action="flag:write" what="triggers" />
      <FormError err={err} />
      {shown && <div class="notice" role="status" aria-label="Trigger URL">
        <p>{shown.label} — copy the URL now, it is not shown again:</p>
        <code class="mono break" aria-label="New trigger URL">{full(shown.url)}</code> <CopyButton text={full(shown.url)} label="Copy trigger URL" />
        <pre class="snippet">curl -X POST {full(shown.url)}</pre>
      </div>}
      {!items ? <Spinner /> : (
        <table class="list">
          <thead><tr><th>Action</th><th>Description</th><th>Token</th><th>Enabled</th><th>Runs</th><th>Last triggered</th>{can('flag:write') && <th><span class="sr-only">Actions</span></th>}</tr></thead>
          <tbody>
            {items.map((t) => (
              <tr key={t.id} aria-label={`Trigger ${name(t)}`}>
                <td>{t.action === 'on' ? 'turn on' : 'turn off'}</td>
                <td>{t.description || <span class="muted">—</span>}</td>
                <td class="mono">{t.prefix}…</td>
                <td>{can('flag:write')
                  ? <Switch checked={t.enabled} label={`Enable trigger ${t.prefix}`} onChange={async (v) => {
                    setErr(null);
                    try { await api.updateTrigger(env.id, t.id, v, t.version); await load(); } catch (e) { setErr(e); }
                  }} />
                  : <span class={'badge ' + (t.enabled ? 'ok' : '')}>{t.enabled ? 'enabled' : 'disabled'}</span>}</td>
                <td data-testid="trigger-count">{t.count}</td>
                <td class="muted">{fmtTime(t.lastTriggeredAt)}</td>
                {can('flag:write') && <td><div class="buttons">
                  <Busy class="small" label={`Reset token of trigger ${t.prefix}`} onClick={async () => {
                    if (!confirm('Replace the token? The current URL stops working.')) return;
                    setErr(null);
                    try { const r = await api.resetTrigger(env.id, t.id); setShown({ label: `New URL of the trigger (${name(r)})`, url: r.url }); await load(); }
                    catch (e) { setErr(e); }
                  }} busyText="Resetting…">Reset token</Busy>
                  <Busy class="small danger" label={`Delete trigger ${t.prefix}`} onClick={async () => {
                    if (!confirm('Delete this trigger?')) return;
                    setErr(null);
                    try { await api.deleteTrigger(env.id, t.id); await load(); } catch (e) { setErr(e); }
                  }} busyText="Deleting…">Delete</Busy>
                </div></td>}
              </tr>
            ))}
            {items.length === 0 && <tr><td colSpan={7} class="muted">No triggers.</td></tr>}
          </tbody>
        </table>
      )}
      <div class="row spaced">
        <Busy class="small" onClick={async () => { await load(); onRun(); }} busyText="Refreshing…">Refresh triggers</Busy>
      </div>
      {can('flag:write') && can('flag:toggle') && !flag.isArchived && <form aria-label="Create trigger" onSubmit={(e) => e.preventDefault()}>
        <div class="row">
          <Select label="Trigger action" value={action} onChange={setAction} err={formErr} field="action"
            options={[{ value: 'on', label: 'turn the flag on' }, { value: 'off', label: 'turn the flag off' }]} />
          <Field label="Trigger description" value={desc} onInput={setDesc} err={formErr} field="description" class="grow" placeholder="rollback from monitoring" />
        </div>
        <FormError err={formErr} fields={['action', 'description']} />
        <Busy type="submit" onClick={async () => {
          setFormErr(null);
          try {
            const r = await api.createTrigger(env.id, flag.key, action, desc);
            setShown({ label: `Trigger created (${name(r)})`, url: r.url }); setDesc(''); await load();
          } catch (e) { setFormErr(e); }
        }} busyText="Creating…">Create trigger</Busy>
      </form>}
    </section>
  );
}

// ---- scheduled changes of one flag ----

const pad = (n: number) => String(n).padStart(2, '0');
// localInput formats a time for a datetime-local input (local time).
export const localInput = (ms: number) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

export function ScheduleDraft({ env, flag, draft, dirty, onApplied }: { env: Env; flag: Flag; draft: Flag; dirty: boolean; onApplied: () => void }) {
  const s = useSession();
  const can = useCan({ env: env.id });
  const [at, setAt] = useState(localInput(Date.now() + 3600_000));
  const [onConflict, setOnConflict] = useState('fail');
  const [err, setErr] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const [items, setItems] = useState<Schedule[] | null>(null);
  const prev = useRef<Schedule[] | null>(null);
  const load = () => api.schedules(env.id, '', flag.key).then((r) => {
    const old = prev.current;
    prev.current = r.items;
    setItems(r.items);
    // one that was pending and is applied now changed the flag
    if (old && r.items.some((x) => x.status === 'applied' && old.some((o) => o.id === x.id && o.status !== 'applied'))) onApplied();
  }).catch(setErr);
  useEffect(() => { load(); }, [flag.version]);
  // while a pending schedule is due within a minute, look every 2 s
  useEffect(() => {
    if (!items || !items.some((x) => (x.status === 'pending' || x.status === 'applying') && x.at < Date.now() + 60_000)) return;
    const t = setTimeout(load, 2000);
    return () => clearTimeout(t);
  }, [items]);
  return (
    <section class="card" aria-labelledby="h-schedule">
      <h2 id="h-schedule">Scheduled changes</h2>
      <ReadOnlyNote can={can} action="flag:write" what="scheduled changes" />
      {can('flag:write') && !flag.isArchived && <form aria-label="Schedule this draft" onSubmit={(e) => e.preventDefault()}>
        <p class="muted">Applies the flag as edited on the Targeting tab (variations, targeting, rules, default rule, on/off — {dirty ? 'including the unsaved changes' : 'no unsaved changes: the flag as saved'}) at the chosen time, instead of now.</p>
        <div class="row">
          <Field label="Apply at" type="datetime-local" value={at} onInput={setAt} err={err} field="at" hint="Your local time." />
          <Select label="If the flag changes before then" value={onConflict} onChange={setOnConflict} err={err} field="onConflict"
            options={[{ value: 'fail', label: 'do not apply (fail)' }, { value: 'apply', label: 'apply anyway' }]} />
        </div>
        <FormError err={err} fields={['at', 'onConflict']} />
        <Busy type="submit" onClick={async () => {
          setErr(null); setDone('');
          try {
            const x = await api.createSchedule(env.id, flag.key, new Date(at).getTime(), draft, onConflict);
            setDone(`Scheduled for ${fmtTime(x.at)}.`); await load();
          } catch (e) { setErr(e); }
        }} busyText="Scheduling…">Schedule this draft</Busy>
        <span role="status" class="saved">{done}</span>
      </form>}
      {!items ? <Spinner /> : <ScheduleTable env={env} items={items} onChange={load} showFlag={false} />}
    </section>
  );
}

const draftSummary = (d: Flag) => {
  const n = (d.rules || []).length, t = (d.targetUsers || []).reduce((a, x) => a + (x.keyIds || []).length, 0);
  return `${d.isEnabled ? 'on' : 'off'} · ${n} rule${n === 1 ? '' : 's'} · ${t} targeted`;
};

export function ScheduleTable({ env, items, onChange, showFlag }: { env: Env; items: Schedule[]; onChange: () => void; showFlag: boolean }) {
  const s = useSession();
  const can = useCan({ env: env.id });
  const [err, setErr] = useState<unknown>(null);
  return <>
    <FormError err={err} />
    <table class="list" aria-label="Scheduled changes">
      <thead><tr>{showFlag && <th>Flag</th>}<th>Apply at</th><th>Draft</th><th>State</th><th>Created</th><th>Comment</th>{can('flag:write') && <th><span class="sr-only">Actions</span></th>}</tr></thead>
      <tbody>
        {items.map((x) => (
          <tr key={x.id} aria-label={`Schedule of ${x.flagKey} at ${fmtTime(x.at)}`}>
            {showFlag && <td><a href={`/envs/${env.id}/flags/${encodeURIComponent(x.flagKey)}`}>{x.flagKey}</a></td>}
            <td>{fmtTime(x.at)}</td>
            <td><details><summary>{draftSummary(x.draft)}</summary><pre class="snippet">{JSON.stringify({
              name: x.draft.name, description: x.draft.description, isEnabled: x.draft.isEnabled, variations: x.draft.variations,
              targetUsers: x.draft.targetUsers, rules: x.draft.rules, fallthrough: x.draft.fallthrough, disabledVariationId: x.draft.disabledVariationId,
            }, null, 2)}</pre></details></td>
            <td><span class={'badge ' + (x.status === 'applied' ? 'ok' : x.status === 'failed' ? 'bad' : '')} data-testid="schedule-status">{x.status}</span>
              {x.reason && <div class="hint">{x.reason}</div>}
              {x.appliedAt ? <div class="hint">at {fmtTime(x.appliedAt)}{x.appliedVersion ? ` (version ${x.appliedVersion})` : ''}</div> : null}</td>
            <td class="muted">{fmtTime(x.createdAt)} · from version {x.baseVersion}</td>
            <td>{x.comment || <span class="muted">—</span>}</td>
            {can('flag:write') && <td>{x.status === 'pending' && <Busy class="small danger" label={`Cancel the schedule of ${x.flagKey} at ${fmtTime(x.at)}`} onClick={async () => {
              setErr(null);
              try { await api.cancelSchedule(env.id, x.id); onChange(); } catch (e) { setErr(e); }
            }} busyText="Cancelling…">Cancel</Busy>}</td>}
          </tr>
        ))}
        {items.length === 0 && <tr><td colSpan={7} class="muted">No scheduled changes.</td></tr>}
      </tbody>
    </table>
  </>;
}

// ---- compare and copy ----

const PARTS: Record<string, string> = {
  variations: 'Variations', targeting: 'Individual targeting', rules: 'Rules', defaultRule: 'Default rule', onOff: 'On/off',
};
const show = (v: unknown) => (v === undefined || v === null ? '(none)' : typeof v === 'boolean' ? (v ? 'on' : 'off') : JSON.stringify(v, null, 2));

export function Compare({ env, flag }: { env: Env; flag: Flag }) {
  const s = useSession();
  const others = s.envs.filter((e) => e.id !== env.id);
  const [target, setTarget] = useState(others[0]?.id || '');
  const tcan = useCan(target ? { env: target } : null); // copies write into the target
  const [res, setRes] = useState<FlagCompare | null>(null);
  const [pick, setPick] = useState<string[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const tname = others.find((e) => e.id === target)?.name || '';
  const compare = async () => {
    setErr(null);
    try { const r = await api.compareFlag(env.id, flag.key, target); setRes(r); setPick((r.parts || []).map((p) => p.part)); }
    catch (e) { setErr(e); setRes(null); }
  };
  if (others.length === 0) return null;
  return (
    <section class="card" aria-labelledby="h-compare">
      <h2 id="h-compare">Compare with another environment</h2>
      <div class="row">
        <Select label="Compare with environment" value={target} onChange={(v) => { setTarget(v); setRes(null); setDone(''); }} err={err} field="targetEnvId"
          options={others.map((e) => ({ value: e.id, label: e.name }))} />
        <Busy onClick={() => { setDone(''); return compare(); }} busyText="Comparing…">Compare</Busy>
      </div>
      <FormError err={err} fields={['targetEnvId']} />
      {res && <div role="region" aria-label="Comparison">
        <p data-testid="compare-status">{
          res.status === 'same' ? `Same in ${env.name} and ${tname}.`
            : res.status === 'onlyInSource' ? `${tname} has no flag ${flag.key}; use “Copy flag” below.`
              : res.status === 'onlyInTarget' ? `Only ${tname} has ${flag.key}.`
                : `${(res.parts || []).length} ${(res.parts || []).length === 1 ? 'part differs' : 'parts differ'} between ${env.name} and ${tname}.`}</p>
        {(res.parts || []).length > 0 && <table class="list diff">
          <thead><tr><th>Part</th><th>{env.name} (this environment)</th><th>{tname}</th></tr></thead>
          <tbody>{(res.parts || []).map((p) => (
            <tr key={p.part} aria-label={`Difference in ${PARTS[p.part] || p.part}`}>
              <td>{tcan('flag:write')
                ? <label class="check"><input type="checkbox" checked={pick.includes(p.part)}
                  onChange={(e) => setPick((e.target as HTMLInputElement).checked ? [...pick, p.part] : pick.filter((x) => x !== p.part))} /> {PARTS[p.part] || p.part}</label>
                : PARTS[p.part] || p.part}</td>
              <td><pre class="snippet">{show(p.source)}</pre></td>
              <td><pre class="snippet">{show(p.target)}</pre></td>
            </tr>
          ))}</tbody>
        </table>}
        {tcan.ready && !tcan('flag:write') && res.status === 'different' && <p class="hint why" role="note">Copying to {tname}: {tcan.why('flag:write')}</p>}
        {tcan('flag:write') && res.status === 'different' && <Busy class="primary" disabled={pick.length === 0} onClick={async () => {
          setErr(null); setDone('');
          try {
            const cur = await api.flag(target, flag.key);
            await api.copyParts(env.id, flag.key, target, pick, cur.version);
            setDone(`Copied ${pick.map((p) => PARTS[p] || p).join(', ')} to ${tname}.`);
            await compare();
          } catch (e) { setErr(e); }
        }} busyText="Copying…">Copy selected parts to {tname}</Busy>}
        <span role="status" class="saved">{done}</span>
      </div>}
    </section>
  );
}

// ---- code references ----

export function CodeRefs({ env, flag }: { env: Env; flag: Flag }) {
  const [items, setItems] = useState<CodeRef[] | null>(null);
  const [total, setTotal] = useState(0);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => { api.codeRefs(env.projectId, flag.key).then((r) => { setItems(r.items || []); setTotal(r.total); }).catch(setErr); }, [flag.key]);
  return (
    <section class="card" aria-labelledby="h-coderefs">
      <h2 id="h-coderefs">Code references</h2>
      <FormError err={err} />
      {!items ? (!err && <Spinner />) : items.length === 0
        ? <p class="muted">No references to {flag.key} in the scanned repositories (upload them with the coderefs scanner).</p>
        : <>
          <p class="muted">{total} reference{total === 1 ? '' : 's'}{total > items.length ? ` (first ${items.length} shown)` : ''}.</p>
          <ul class="coderefs">{items.map((r, i) => (
            <li key={i} aria-label={`${r.repository} ${r.file}:${r.line}`}>
              <div><b>{r.repository}</b> <span class="badge">{r.branch}</span> <span class="mono">{r.file}:{r.line}</span>
                {r.commit && <span class="muted mono"> @{r.commit.slice(0, 10)}</span>}</div>
              {r.context && r.context.length > 0 && <pre class="snippet code">{r.context.map((l, j) => {
                const n = (r.contextStart || r.line) + j;
                return <span key={j} class={n === r.line ? 'hit' : ''}>{String(n).padStart(5, ' ')}  {l}{'\n'}</span>;
              })}</pre>}
            </li>
          ))}</ul>
        </>}
    </section>
  );
}
