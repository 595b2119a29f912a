// pages/flagtriggers.tsx: the flag page's triggers: URLs that turn the flag on or off.
import { useEffect, useState } from 'preact/hooks';
import { api, Env, Flag, Trigger } from '../api';
import { Busy, CopyButton, Field, FormError, Select, Spinner, Switch, fmtTime, useSession } from '../ui';
import { ReadOnlyNote, useCan } from '../perm';

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
