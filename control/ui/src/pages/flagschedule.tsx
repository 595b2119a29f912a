// pages/flagschedule.tsx: "schedule this draft" and the table of a flag's (or an environment's) scheduled changes.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, Env, Flag, Schedule } from '../api';
import { Busy, Field, FormError, Select, Spinner, fmtTime, useSession } from '../ui';
import { ReadOnlyNote, useCan } from '../perm';

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
