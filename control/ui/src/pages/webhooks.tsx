// pages/webhooks.tsx: the webhooks of an organization (admins): list,
// create / edit (URL, event kinds, project and environment filters, the
// signing secret shown once), enable / disable, delete, "send test", and the
// delivery log of each webhook (status, HTTP status, latency, response
// excerpt of every attempt).
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, Delivery, Env, Project, Webhook, WebhookRequest } from '../api';
import { Busy, CopyButton, Field, FormError, Page, Spinner, Switch, errorFor, FieldError, fmtTime, useSession } from '../ui';
import { useCan } from '../perm';


const emptyForm = (): WebhookRequest => ({ name: '', url: '', events: ['flag.updated', 'flag.toggled'], projectIds: [], envIds: [], description: '', secret: '' });

export function Webhooks({ orgId }: { orgId: string }) {
  const can = useCan({ org: orgId });
  const [items, setItems] = useState<Webhook[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [editing, setEditing] = useState<Webhook | 'new' | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [open, setOpen] = useState<string>('');
  const [rowErr, setRowErr] = useState<Record<string, string>>({});
  const [tested, setTested] = useState<Record<string, Delivery>>({});
  const [projects, setProjects] = useState<Project[]>([]);
  const [envs, setEnvs] = useState<Env[]>([]);
  // the event kinds come from the API (GET …/webhook-kinds), never a copy here
  const [kinds, setKinds] = useState<string[] | null>(null);
  const load = () => api.webhooks(orgId).then((r) => { setItems(r.items); setErr(null); }).catch(setErr);
  useEffect(() => {
    load();
    api.webhookKinds(orgId).then((r) => setKinds(r.items)).catch(setErr);
    api.projects(orgId).then(async (r) => {
      setProjects(r.items);
      const all: Env[] = [];
      for (const p of r.items) all.push(...(await api.envs(p.id)).items);
      setEnvs(all);
    }).catch(() => {});
  }, [orgId]);
  const pname = (id: string) => projects.find((p) => p.id === id)?.name || id;
  const ename = (id: string) => { const e = envs.find((x) => x.id === id); return e ? `${pname(e.projectId)} / ${e.name}` : id; };
  const rowError = (id: string, e: unknown) => setRowErr((r) => ({ ...r, [id]: e ? (e as Error).message : '' }));
  if (!can.ready) return <Page title="Webhooks"><Spinner /></Page>;
  if (!can('webhook:manage')) return <Page title="Webhooks"><p class="notice" role="note">{can.why('webhook:manage')}</p></Page>;
  return (
    <Page title="Webhooks" actions={!editing && <button type="button" class="primary" onClick={() => { setEditing('new'); setSecret(null); }}>Create webhook</button>}>
      <p class="muted">Each event is POSTed as JSON, signed with HMAC-SHA256 over timestamp and body; failed deliveries are retried with backoff.</p>
      <FormError err={err} />
      {secret && <div class="card notice" role="status" aria-label="Signing secret">
        <p>Signing secret of <b>{secret.name}</b> — copy it now, it is not shown again:</p>
        <code class="mono" aria-label="New signing secret">{secret.secret}</code> <CopyButton text={secret.secret} label="Copy signing secret" />
      </div>}
      {editing && <WebhookForm orgId={orgId} hook={editing === 'new' ? null : editing} kinds={kinds} projects={projects} envs={envs} ename={ename}
        onCancel={() => setEditing(null)}
        onSaved={(w, sec) => { setEditing(null); if (sec) setSecret({ name: w.name, secret: sec }); load(); }} />}
      {!items ? <Spinner /> : (
        <table class="list">
          <thead><tr><th>Name</th><th>Events</th><th>Filter</th><th>Enabled</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {items.map((w) => (
              <Fragment key={w.id}>
                <tr>
                  <td><b>{w.name}</b><div class="mono muted">{w.url}</div></td>
                  <td>{w.events.map((k) => <span key={k} class="tag static">{k === '*' ? 'all events' : k}</span>)}</td>
                  <td class="muted">{[...(w.projectIds || []).map(pname), ...(w.envIds || []).map(ename)].join(', ') || 'everything'}</td>
                  <td><Switch checked={w.enabled} label={`Enable webhook ${w.name}`} onChange={async (v) => {
                    rowError(w.id, null);
                    try {
                      await api.updateWebhook(orgId, w.id, { name: w.name, url: w.url, events: w.events, projectIds: w.projectIds || [], envIds: w.envIds || [],
                        description: w.description || '', enabled: v, version: w.version });
                      await load();
                    } catch (e) { rowError(w.id, e); }
                  }} /></td>
                  <td>
                    <div class="buttons">
                      <Busy class="small" label={`Send test to ${w.name}`} onClick={async () => {
                        rowError(w.id, null);
                        try { const d = await api.testWebhook(orgId, w.id); setTested((t) => ({ ...t, [w.id]: d })); setOpen(w.id); }
                        catch (e) { rowError(w.id, e); }
                      }} busyText="Sending…">Send test</Busy>
                      <button type="button" class="small" aria-expanded={open === w.id ? 'true' : 'false'} aria-label={`Deliveries of ${w.name}`}
                        onClick={() => setOpen(open === w.id ? '' : w.id)}>Deliveries</button>
                      <button type="button" class="small" aria-label={`Edit ${w.name}`} onClick={() => { setEditing(w); setSecret(null); }}>Edit</button>
                      <Busy class="small danger" label={`Delete ${w.name}`} onClick={async () => {
                        if (!confirm(`Delete the webhook ${w.name}?`)) return;
                        try { await api.deleteWebhook(orgId, w.id); await load(); } catch (e) { rowError(w.id, e); }
                      }} busyText="Deleting…">Delete</Busy>
                    </div>
                    {tested[w.id] && <div role="status" class="hint" aria-label={`Test result of ${w.name}`}>Test {tested[w.id].status}: {attemptText(tested[w.id])}</div>}
                    {rowErr[w.id] && <div class="field-error" role="alert">{rowErr[w.id]}</div>}
                  </td>
                </tr>
                {open === w.id && <tr><td colSpan={5}><Deliveries orgId={orgId} hook={w} refresh={tested[w.id]?.id || ''} /></td></tr>}
              </Fragment>
            ))}
            {items.length === 0 && <tr><td colSpan={5} class="muted">No webhooks.</td></tr>}
          </tbody>
        </table>
      )}
    </Page>
  );
}

const attemptText = (d: Delivery) => {
  const a = (d.attempts || [])[(d.attempts || []).length - 1];
  if (!a) return 'not sent yet';
  return `${a.status ? 'HTTP ' + a.status : 'no response'} in ${a.latencyMs} ms${a.error ? ' — ' + a.error : ''}`;
};

function WebhookForm({ orgId, hook, kinds, projects, envs, ename, onCancel, onSaved }: {
  orgId: string; hook: Webhook | null; kinds: string[] | null; projects: Project[]; envs: Env[]; ename: (id: string) => string;
  onCancel: () => void; onSaved: (w: Webhook, secret?: string) => void;
}) {
  const [f, setF] = useState<WebhookRequest>(hook
    ? { name: hook.name, url: hook.url, events: hook.events, projectIds: hook.projectIds || [], envIds: hook.envIds || [], description: hook.description || '', secret: '', version: hook.version }
    : emptyForm());
  const [err, setErr] = useState<unknown>(null);
  const toggle = (list: string[], x: string, on: boolean) => (on ? [...list.filter((y) => y !== x), x] : list.filter((y) => y !== x));
  const all = f.events.includes('*');
  const evErr = errorFor(err, 'events', true);
  const title = hook ? `Edit webhook ${hook.name}` : 'Create webhook';
  return (
    <form class="card" aria-label={title} onSubmit={(e) => e.preventDefault()}>
      <h2>{hook ? `Edit ${hook.name}` : 'New webhook'}</h2>
      <div class="row">
        <Field label="Webhook name" value={f.name} onInput={(v) => setF({ ...f, name: v })} err={err} field="name" />
        <Field label="Payload URL" value={f.url} onInput={(v) => setF({ ...f, url: v })} err={err} field="url" type="url" class="grow" placeholder="https://example.com/hooks/switchyard" />
      </div>
      <fieldset aria-describedby={evErr ? 'wh-events-err' : undefined}>
        <legend>Event kinds</legend>
        <label class="check"><input type="checkbox" checked={all} onChange={(e) => setF({ ...f, events: (e.target as HTMLInputElement).checked ? ['*'] : [] })} /> All events (*)</label>
        {!all && !kinds && <Spinner />}
        {!all && kinds && <div class="checks">{kinds.map((k) => (
          <label class="check" key={k}><input type="checkbox" checked={f.events.includes(k)}
            onChange={(e) => setF({ ...f, events: toggle(f.events, k, (e.target as HTMLInputElement).checked) })} /> {k}</label>
        ))}</div>}
        <FieldError id="wh-events-err" msg={evErr} />
      </fieldset>
      <fieldset>
        <legend>Only events of (none checked: the whole organization)</legend>
        <div class="checks">
          {projects.map((p) => <label class="check" key={p.id}><input type="checkbox" checked={f.projectIds.includes(p.id)}
            onChange={(e) => setF({ ...f, projectIds: toggle(f.projectIds, p.id, (e.target as HTMLInputElement).checked) })} /> project {p.name}</label>)}
          {envs.map((x) => <label class="check" key={x.id}><input type="checkbox" checked={f.envIds.includes(x.id)}
            onChange={(e) => setF({ ...f, envIds: toggle(f.envIds, x.id, (e.target as HTMLInputElement).checked) })} /> environment {ename(x.id)}</label>)}
        </div>
        <FieldError id="wh-proj-err" msg={errorFor(err, 'projectIds', true) || errorFor(err, 'envIds', true)} />
      </fieldset>
      <div class="row">
        <Field label="Signing secret (optional)" value={f.secret || ''} onInput={(v) => setF({ ...f, secret: v })} err={err} field="secret" type="password"
          autoComplete="new-password" hint={hook ? 'Leave empty to keep the current secret.' : 'Leave empty for a random one (shown once after creation).'} />
        <Field label="Webhook description" value={f.description} onInput={(v) => setF({ ...f, description: v })} err={err} field="description" class="grow" />
      </div>
      <FormError err={err} fields={['name', 'url', 'events', 'projectIds', 'envIds', 'secret', 'description']} />
      <div class="buttons">
        <Busy type="submit" class="primary" onClick={async () => {
          setErr(null);
          try {
            if (hook) onSaved(await api.updateWebhook(orgId, hook.id, { ...f, version: hook.version }));
            else { const w = await api.createWebhook(orgId, { ...f, secret: f.secret || undefined }); onSaved(w, w.secret); }
          } catch (e) { setErr(e); }
        }} busyText="Saving…">{hook ? 'Save webhook' : 'Create webhook'}</Busy>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function Deliveries({ orgId, hook, refresh }: { orgId: string; hook: Webhook; refresh: string }) {
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<{ items: Delivery[]; total: number } | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () => api.deliveries(orgId, hook.id, offset).then((d) => { setData({ items: d.items || [], total: d.total }); setErr(null); }).catch(setErr);
  useEffect(() => { load(); }, [offset, refresh]);
  return (
    <div role="region" aria-label={`Delivery log of ${hook.name}`} class="deliveries">
      <div class="row"><h3>Delivery log</h3><Busy class="small" onClick={load} busyText="Refreshing…">Refresh deliveries</Busy></div>
      <FormError err={err} />
      {!data ? <Spinner /> : (
        <table class="list">
          <thead><tr><th>Time</th><th>Event</th><th>Status</th><th>Attempts</th><th>Latency</th><th>Response</th></tr></thead>
          <tbody>
            {data.items.map((d) => {
              const at = d.attempts || [];
              const last = at[at.length - 1];
              return (
                <tr key={d.id}>
                  <td class="muted">{fmtTime(d.createdAt)}</td>
                  <td class="mono">{d.event}</td>
                  <td><span class={'badge ' + (d.status === 'delivered' ? 'ok' : d.status === 'failed' ? 'bad' : '')}>{d.status}</span>
                    {last && <span class="mono"> {last.status ? 'HTTP ' + last.status : 'no response'}</span>}</td>
                  <td>{at.length}{d.status === 'pending' && d.nextAt ? <span class="muted"> · next {fmtTime(d.nextAt)}</span> : null}</td>
                  <td>{last ? `${last.latencyMs} ms` : '—'}</td>
                  <td>{last && <details><summary class="mono">{(last.error || last.response || '(empty)').slice(0, 60)}</summary>
                    {at.map((a, i) => <div key={i} class="mono small">#{i + 1} {fmtTime(a.at)} · {a.status || '—'} · {a.latencyMs} ms {a.error && <span class="field-error">{a.error}</span>}
                      <pre class="snippet">{a.response || ''}</pre></div>)}
                  </details>}</td>
                </tr>
              );
            })}
            {data.items.length === 0 && <tr><td colSpan={6} class="muted">No deliveries yet.</td></tr>}
          </tbody>
        </table>
      )}
      {data && data.total > 20 && <div class="pager">
        <span class="muted">{data.total} deliveries</span>
        <button type="button" class="small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 20))}>Newer deliveries</button>
        <button type="button" class="small" disabled={offset + 20 >= data.total} onClick={() => setOffset(offset + 20)}>Older deliveries</button>
      </div>}
    </div>
  );
}
