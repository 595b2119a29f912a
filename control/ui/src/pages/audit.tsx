// pages/audit.tsx: the audit log of an environment or of the whole
// organization (filters: resource type and key, actor, time range; paging),
// the environment's "require a change comment" setting, and the History of
// one flag (its entries with the field-level diffs, and its kept versions
// with "restore this version", which shows the difference first).
import { useEffect, useRef, useState } from 'preact/hooks';
import { AccessToken, api, AuditEntry, AuditQuery, Env, EnvSettings, Flag, Member } from '../api';
import { Busy, Field, FormError, Page, Select, Spinner, fmtTime, useSession } from '../ui';
import { EntryDiff, itemLink, itemName, useNames } from '../auditdiff';

const PAGE = 25;
const TYPES = ['flag', 'segment', 'trigger', 'schedule', 'environment', 'secret', 'metric', 'experiment', 'settings', 'end_user'];
const ORG_TYPES = [...TYPES, 'webhook', 'member', 'token', 'project', 'organization', 'group', 'policy'];

// toMs reads a datetime-local value (the browser's local time) as Unix ms.
const toMs = (v: string) => (v ? new Date(v).getTime() : 0);

export function AuditEntries({ items, showResource = true, envName }: { items: AuditEntry[]; showResource?: boolean; envName?: (id?: string) => string }) {
  const names = useNames(items); // auditdiff.tsx: ids → names, field-level diffs, links
  if (items.length === 0) return <p class="muted">No entries.</p>;
  return (
    <ol class="audit" aria-label="Audit entries">
      {items.map((e) => {
        const n = e.envId ? names.get(e.envId) : undefined;
        const name = itemName(e, n), href = itemLink(e, n);
        return (
          <li key={e.id} class="audit-entry" aria-label={`${e.resourceType} ${name} ${e.action}`}>
            <div class="audit-head">
              <span class="badge">{e.resourceType.replace('_', ' ')}</span> <b>{e.action.replace('_', ' ')}</b>
              {showResource && name && (href ? <a class="mono" href={href}> {name}</a> : <span class="mono"> {name}</span>)}
              {envName && envName(e.envId) && <span class="badge">{envName(e.envId)}</span>}
              <span class="muted"> by {e.actorName || e.actor || 'system'} · {fmtTime(e.at)}</span>
            </div>
            {e.comment && <div class="audit-comment">“{e.comment}”</div>}
            <EntryDiff e={e} names={n} />
          </li>
        );
      })}
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
      {env && <p class="muted">Required change comments and protection (approvals) are on the environment's <a href={`/envs/${env.id}/settings`}>Settings</a> page.</p>}
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

// The parts of a flag a restore changes, in the order they are shown.
const PARTS: (keyof Flag)[] = ['name', 'description', 'isEnabled', 'variations', 'disabledVariationId', 'targetUsers', 'rules', 'fallthrough', 'exptIncludeAllTargets', 'tags'];

const short = (v: unknown) => { const j = JSON.stringify(v) ?? ''; return j.length > 2000 ? j.slice(0, 1997) + '…' : j; };

// flagDiff lists what restoring old over cur changes, part by part.
export function flagDiff(cur: Flag, old: Flag): { part: string; now: string; then: string }[] {
  return PARTS.filter((p) => JSON.stringify(cur[p]) !== JSON.stringify(old[p]))
    .map((p) => ({ part: String(p), now: short(cur[p]), then: short(old[p]) }));
}

// FlagVersions lists the kept past states of a flag; "Restore" shows what
// would change and asks for confirmation before writing the version anew.
export function FlagVersions({ env, flag, canRestore, onRestored }: { env: Env; flag: Flag; canRestore: boolean; onRestored: (f: Flag) => void }) {
  const [items, setItems] = useState<Flag[] | null>(null);
  const [pick, setPick] = useState<Flag | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    api.flagVersions(env.id, flag.key).then((l) => { setItems(l.items); setErr(null); }).catch(setErr);
  }, [flag.version]);
  const diff = pick ? flagDiff(flag, pick) : [];
  return (
    <section class="card" aria-labelledby="h-versions">
      <h2 id="h-versions">Versions</h2>
      <FormError err={err} />
      {pick && <div class="card" role="dialog" aria-modal="true" aria-label={`Restore version ${pick.version}`}>
        <h3>Restore version {pick.version}?</h3>
        <p class="muted">It is written as version {flag.version + 1}; SDKs get it like any change.</p>
        {diff.length === 0 ? <p>Version {pick.version} is the same as the current flag.</p>
          : <table class="diff" aria-label="Changes"><thead><tr><th>Part</th><th>Now</th><th>After the restore</th></tr></thead>
            <tbody>{diff.map((d) => <tr key={d.part}><td>{d.part}</td><td class="mono break">{d.now}</td><td class="mono break">{d.then}</td></tr>)}</tbody></table>}
        <Busy class="primary" onClick={async () => {
          setErr(null);
          try { onRestored(await api.restoreVersion(env.id, flag.key, pick.version)); setPick(null); } catch (e) { setErr(e); }
        }} busyText="Restoring…">Restore version {pick.version}</Busy>
        <button type="button" onClick={() => setPick(null)}>Cancel</button>
      </div>}
      {!items ? <Spinner /> : <ol class="audit" aria-label="Versions">
        {items.map((v) => <li key={v.version}>
          <span>version {v.version}{v.version === flag.version ? ' (current)' : ''} · {fmtTime(v.updatedAt)} · {v.isEnabled ? 'on' : 'off'}</span>
          {canRestore && v.version !== flag.version && <button type="button" class="small" aria-label={`Restore version ${v.version}`}
            onClick={() => { setErr(null); setPick(v); }}>Restore this version</button>}
        </li>)}
      </ol>}
    </section>
  );
}
