// pages/audit.tsx: the audit log of an environment or of the whole
// organization (filters: resource type and key, actor, time range; paging),
// the environment's "require a change comment" setting, and the History of
// one flag (its entries with the field-level diffs).
import { useEffect, useRef, useState } from 'preact/hooks';
import { AccessToken, api, AuditEntry, AuditQuery, Env, Member } from '../api';
import { Busy, Field, FormError, Page, Select, Spinner, fmtTime, useSession } from '../ui';

const PAGE = 25;
const TYPES = ['flag', 'segment', 'trigger', 'schedule', 'environment', 'secret', 'metric', 'experiment', 'settings'];
const ORG_TYPES = [...TYPES, 'webhook', 'member', 'token', 'project', 'organization'];

// toMs reads a datetime-local value (the browser's local time) as Unix ms.
const toMs = (v: string) => (v ? new Date(v).getTime() : 0);

export function AuditEntries({ items, showResource = true, envName }: { items: AuditEntry[]; showResource?: boolean; envName?: (id?: string) => string }) {
  if (items.length === 0) return <p class="muted">No entries.</p>;
  return (
    <ol class="audit" aria-label="Audit entries">
      {items.map((e) => (
        <li key={e.id} class="audit-entry" aria-label={`${e.resourceType} ${e.resourceKey || e.resourceId || ''} ${e.action}`}>
          <div class="audit-head">
            <span class="badge">{e.resourceType}</span> <b>{e.action}</b>
            {showResource && (e.resourceKey || e.resourceId) && <span class="mono"> {e.resourceKey || e.resourceId}</span>}
            {envName && envName(e.envId) && <span class="badge">{envName(e.envId)}</span>}
            <span class="muted"> by {e.actorName || e.actor || 'system'} · {fmtTime(e.at)}</span>
          </div>
          {e.comment && <div class="audit-comment">“{e.comment}”</div>}
          {e.changes && e.changes.length > 0 && <ul class="changes">{e.changes.map((c, i) => <li key={i}>{c}</li>)}</ul>}
        </li>
      ))}
    </ol>
  );
}

// AuditLog: with env, that environment's log; without, the organization's
// (every environment plus webhooks, members, tokens, projects).
export function AuditLog({ env, orgId }: { env?: Env; orgId: string }) {
  const s = useSession();
  const [type, setType] = useState('');
  const [resource, setResource] = useState('');
  const [actor, setActor] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [offset, setOffset] = useState(0);
  const [applied, setApplied] = useState<AuditQuery>({});
  const [data, setData] = useState<{ items: AuditEntry[]; total: number } | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const seq = useRef(0);
  const load = async () => {
    const my = ++seq.current;
    setLoading(true);
    try {
      const q = { ...applied, offset, limit: PAGE };
      const d = await (env ? api.audit(env.id, q) : api.orgAudit(orgId, q));
      if (my === seq.current) { setData({ items: d.items || [], total: d.total }); setErr(null); }
    } catch (e) { if (my === seq.current) setErr(e); } finally { if (my === seq.current) setLoading(false); }
  };
  useEffect(() => { load(); }, [JSON.stringify(applied), offset]);
  const [tokens, setTokens] = useState<AccessToken[]>([]);
  useEffect(() => {
    api.members(orgId).then((r) => setMembers(r.items)).catch(() => {});
    if (s.isAdmin) api.tokens(orgId).then((r) => setTokens(r.items)).catch(() => {}); // writes by access tokens
  }, [orgId]);
  // "to" is inclusive to the end of its minute
  const apply = () => { setOffset(0); setApplied({ type, resource: resource.trim(), actor, from: toMs(from), to: to ? toMs(to) + 59_999 : 0 }); };
  const envName = (id?: string) => (id && !env ? s.envs.find((e) => e.id === id)?.name || '' : '');
  return (
    <Page title={env ? 'Audit log' : `Audit log of ${s.org?.name || 'the organization'}`}>
      {env && s.isAdmin && <CommentSetting env={env} />}
      <form class="filters" role="search" aria-label="Filter the audit log" onSubmit={(e) => { e.preventDefault(); apply(); }}>
        <Select label="Resource type" value={type} onChange={setType} err={err} field="type"
          options={[{ value: '', label: 'Any' }, ...(env ? TYPES : ORG_TYPES).map((t) => ({ value: t, label: t }))]} />
        <Field label="Resource (key or id)" value={resource} onInput={setResource} err={err} field="resource" placeholder="checkout-flow" />
        <Select label="Actor" value={actor} onChange={setActor} err={err} field="actor"
          options={[{ value: '', label: 'Anyone' }, ...members.map((m) => ({ value: m.userId, label: m.email })),
            ...tokens.map((t) => ({ value: 'token:' + t.id, label: `token ${t.name}` }))]} />
        <Field label="From" value={from} onInput={setFrom} err={err} field="from" type="datetime-local" />
        <Field label="To" value={to} onInput={setTo} err={err} field="to" type="datetime-local" />
        <Busy type="submit" onClick={apply}>Apply filters</Busy>
      </form>
      <FormError err={err} fields={['type', 'resource', 'actor', 'from', 'to']} />
      {!data ? <Spinner /> : (
        <div aria-busy={loading ? 'true' : undefined}>
          <AuditEntries items={data.items} envName={envName} />
          <div class="pager">
            <span class="muted">{data.total} entr{data.total === 1 ? 'y' : 'ies'}{data.total > 0 ? ` · ${offset + 1}–${Math.min(offset + PAGE, data.total)}` : ''}</span>
            <button type="button" class="small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous page</button>
            <button type="button" class="small" disabled={offset + PAGE >= data.total} onClick={() => setOffset(offset + PAGE)}>Next page</button>
          </div>
        </div>
      )}
    </Page>
  );
}

// CommentSetting: admins choose whether writes in the environment need a
// change comment.
function CommentSetting({ env }: { env: Env }) {
  const [on, setOn] = useState<boolean | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => { api.envSettings(env.id).then((x) => setOn(x.requireComment)).catch(setErr); }, [env.id]);
  if (on === null) return err ? <FormError err={err} /> : null;
  return (
    <div class="card row">
      <label class="check"><input type="checkbox" checked={on} aria-describedby="req-comment-hint" onChange={async (e) => {
        const v = (e.target as HTMLInputElement).checked;
        setErr(null);
        try { setOn((await api.putEnvSettings(env.id, v)).requireComment); } catch (x) { setErr(x); (e.target as HTMLInputElement).checked = on; }
      }} /> Require a change comment on every write in {env.name}</label>
      <span id="req-comment-hint" class="hint">When on, the UI asks for a comment before each change and the API refuses writes without one.</span>
      <FormError err={err} />
    </div>
  );
}

// FlagHistory lists the audit entries of one flag (newest first, paged).
export function FlagHistory({ env, flagKey, version }: { env: Env; flagKey: string; version: number }) {
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<{ items: AuditEntry[]; total: number } | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    api.audit(env.id, { resource: flagKey, type: 'flag', offset, limit: PAGE })
      .then((d) => { setData({ items: d.items || [], total: d.total }); setErr(null); }).catch(setErr);
  }, [offset, version]);
  return (
    <section class="card" aria-labelledby="h-history">
      <h2 id="h-history">History</h2>
      <FormError err={err} />
      {!data ? <Spinner /> : <>
        <AuditEntries items={data.items} showResource={false} />
        {data.total > PAGE && <div class="pager">
          <span class="muted">{data.total} entries</span>
          <button type="button" class="small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Newer entries</button>
          <button type="button" class="small" disabled={offset + PAGE >= data.total} onClick={() => setOffset(offset + PAGE)}>Older entries</button>
        </div>}
      </>}
    </section>
  );
}
