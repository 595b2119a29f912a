// auditdiff.tsx: audit entries as readable diffs. The API describes a
// change as lines: sentences for flags and segments ("rule 'beta': …"),
// and for every other kind "field before → after" / "field set to x" /
// "field removed (was x)" over the item's JSON. Here the JSON-path lines
// become a table (field, before → after) with ids replaced by names (flags,
// segments, metrics, experiments, variations), times shown as dates, and
// bookkeeping fields (ids, versions, whole drafts the other lines already
// describe) left out; each entry links to its item.
import { useEffect, useState } from 'preact/hooks';
import { api, AuditEntry, Flag } from './api';
import { fmtTime } from './ui';
import './target.css';

export interface Names {
  ids: Map<string, string>; // flag, segment, metric and experiment ids → display names
  flagKeys: Map<string, string>; // flag id → key
  flags: Map<string, Flag>; // flag id → flag (for variation names)
  exptFlag: Map<string, string>; // experiment id → flag id
}

const cache = new Map<string, { at: number; p: Promise<Names> }>();
const TTL = 30_000;

// namesOf loads the names of an environment's items (cached for 30 s).
export function namesOf(envId: string): Promise<Names> {
  const c = cache.get(envId);
  if (c && Date.now() - c.at < TTL) return c.p;
  const p = (async () => {
    const n: Names = { ids: new Map(), flagKeys: new Map(), flags: new Map(), exptFlag: new Map() };
    const [fa, fr, segs, ms, xs] = await Promise.all([
      api.flags(envId, { limit: 1000 }).catch(() => ({ items: [] as Flag[] })),
      api.flags(envId, { limit: 1000, status: 'archived' }).catch(() => ({ items: [] as Flag[] })),
      api.segments(envId).catch(() => ({ items: [] })),
      api.metrics(envId).catch(() => ({ items: [] })),
      api.experiments(envId).catch(() => ({ items: [] })),
    ]);
    for (const f of [...fa.items, ...fr.items]) { n.ids.set(f.id, `flag ${f.key}`); n.flagKeys.set(f.id, f.key); n.flags.set(f.id, f); }
    for (const s of segs.items) n.ids.set(s.id, `segment ${s.name}`);
    for (const m of ms.items || []) n.ids.set(m.id, `metric ${m.name}`);
    for (const x of xs.items || []) {
      n.exptFlag.set(x.id, x.flagId);
      n.ids.set(x.id, `experiment on ${n.flagKeys.get(x.flagId) || x.flagId}`);
    }
    return n;
  })();
  cache.set(envId, { at: Date.now(), p });
  return p;
}

// useNames loads the names of every environment the entries belong to.
export function useNames(items: AuditEntry[]): Map<string, Names> {
  const [m, setM] = useState<Map<string, Names>>(new Map());
  const envs = [...new Set(items.map((e) => e.envId).filter((x): x is string => !!x))].sort();
  useEffect(() => {
    let stop = false;
    Promise.all(envs.slice(0, 10).map(async (id) => [id, await namesOf(id)] as const))
      .then((pairs) => { if (!stop) setM(new Map(pairs)); }).catch(() => {});
    return () => { stop = true; };
  }, [envs.join(',')]);
  return m;
}

// Fields that are bookkeeping, not the change.
const NOISE = new Set(['id', 'envId', 'orgId', 'projectId', 'createdAt', 'createdBy', 'updatedAt', 'claims', 'version', 'baseVersion', 'rev', 'draft']);
const TIME_FIELDS = /(^|\.)(at|startedAt|stoppedAt|expiresAt|appliedAt|nextAt|lastTriggeredAt|firstSeen|lastSeen)$/;
const LABELS: Record<string, string> = {
  flagId: 'flag', metricIds: 'metrics', baselineVariationId: 'baseline variation', onConflict: 'on conflict',
  guardrailMetricIds: 'guardrail metrics', primaryMetricId: 'primary metric', customEventTrackOption: 'tracks',
  customEventSuccessCriteria: 'success criteria', eventName: 'event name', eventType: 'event type', flagKey: 'flag',
};
const label = (f: string) => f.split('.').map((p) => LABELS[p] || p.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()).join(' › ');

export interface Row { field: string; before: string; after: string; kind: 'changed' | 'set' | 'removed' }

// parseLine reads one generic line ("path before → after", "path set to
// x", "path removed (was x)"); a sentence (a path does not start it) is null.
export function parseLine(s: string): Row | null {
  let m = /^([A-Za-z_][\w.[\]]*) set to (.*)$/s.exec(s);
  if (m && isValue(m[2])) return { field: m[1], before: '', after: m[2], kind: 'set' };
  m = /^([A-Za-z_][\w.[\]]*) removed \(was (.*)\)$/s.exec(s);
  if (m && isValue(m[2])) return { field: m[1], before: m[2], after: '', kind: 'removed' };
  m = /^([A-Za-z_][\w.[\]]*) (.*) → (.*)$/s.exec(s);
  if (m && isValue(m[2]) && isValue(m[3])) return { field: m[1], before: m[2], after: m[3], kind: 'changed' };
  return null;
}

// isValue: one value as the API shows it ('text', a number, [a, b], JSON),
// not the rest of a sentence ("'beta': condition 1 …").
const isValue = (v: string) => /^'[^']*'$/.test(v) || /^[^\s']+$/.test(v) || /^\[.*\]$/s.test(v) || /^\{.*\}$/s.test(v);

const EMPTY = new Set(["''", '0', 'false', 'none', '[]', 'null', '{}']);
const ID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}/g;

// nameValue shows a value with names for ids and dates for times.
function nameValue(field: string, v: string, names: Names | undefined, flagId: string): string {
  if (v === '') return '';
  if (TIME_FIELDS.test(field) && /^\d{12,14}$/.test(v)) return fmtTime(Number(v));
  if (field.endsWith('ariationId') && names) {
    const f = names.flags.get(flagId);
    const id = v.replace(/^'|'$/g, '');
    const x = f?.variations.find((vv) => vv.id === id);
    if (x) return `'${x.name || x.value}'`;
  }
  if (!names) return v;
  const whole = /^'([^']*)'$/.exec(v);
  if (whole && names.ids.has(whole[1])) return names.ids.get(whole[1])!;
  return v.replace(ID_RE, (id) => names.ids.get(id) || id);
}

// rowsOf turns an entry's lines into table rows and sentences.
export function rowsOf(e: AuditEntry, names: Names | undefined): { rows: Row[]; text: string[] } {
  const rows: Row[] = [], text: string[] = [];
  const lines = e.changes || [];
  const sentences = e.resourceType === 'flag' || e.resourceType === 'segment'; // audit.Flag / audit.Segment wrote them
  const parsed = lines.map((s) => (sentences ? null : parseLine(s)));
  const flagLine = parsed.find((r) => r && r.field === 'flagId');
  const flagId = (flagLine ? flagLine.after || flagLine.before : '').replace(/^'|'$/g, '')
    || (e.resourceType === 'experiment' && e.resourceId ? names?.exptFlag.get(e.resourceId) || '' : '');
  lines.forEach((s, i) => {
    const r = parsed[i];
    if (!r) { text.push(names ? s.replace(ID_RE, (id) => names.ids.get(id) || id) : s); return; }
    const top = r.field.split('.')[0];
    if (NOISE.has(top) || NOISE.has(r.field)) return;
    if (r.kind === 'set' && EMPTY.has(r.after)) return; // created with the default
    if (e.resourceType === 'schedule' && top === 'flagKey') return; // the entry names the flag
    rows.push({ ...r, field: label(r.field), before: nameValue(r.field, r.before, names, flagId), after: nameValue(r.field, r.after, names, flagId) });
  });
  return { rows, text };
}

// itemLink is where an entry's item lives in the UI ('' when nowhere).
export function itemLink(e: AuditEntry, names: Names | undefined): string {
  if (!e.envId) return '';
  const env = `/envs/${e.envId}`;
  const enc = encodeURIComponent;
  switch (e.resourceType) {
    case 'flag': return e.resourceKey ? `${env}/flags/${enc(e.resourceKey)}` : '';
    case 'trigger': case 'schedule': return e.resourceKey ? `${env}/flags/${enc(e.resourceKey)}` : `${env}/schedules`;
    case 'segment': return e.resourceId ? `${env}/segments/${enc(e.resourceId)}` : '';
    case 'metric': case 'experiment': {
      const f = e.resourceType === 'experiment' && e.resourceId ? names?.flagKeys.get(names.exptFlag.get(e.resourceId) || '') : '';
      return f ? `${env}/flags/${enc(f)}` : `${env}/experiments`;
    }
    case 'end_user': return `${env}/end-users`; // erased or imported: nothing to show one by one
    case 'change_request': return e.resourceId ? `${env}/change-requests/${enc(e.resourceId)}` : '';
    case 'environment': case 'secret': return `${env}/sdk`;
  }
  return '';
}

// itemName names an entry's item for people.
export function itemName(e: AuditEntry, names: Names | undefined): string {
  if (e.resourceType === 'experiment' && e.resourceId) return names?.ids.get(e.resourceId)?.replace(/^experiment /, '') || e.resourceKey || e.resourceId;
  return e.resourceKey || (e.resourceId && names?.ids.get(e.resourceId)) || e.resourceId || '';
}

export function EntryDiff({ e, names }: { e: AuditEntry; names: Names | undefined }) {
  const { rows, text } = rowsOf(e, names);
  return <>
    {text.length > 0 && <ul class="changes">{text.map((c, i) => <li key={i}>{c}</li>)}</ul>}
    {rows.length > 0 && <table class="adiff" aria-label={`Changes to ${e.resourceType} ${itemName(e, names)}`}>
      <thead><tr><th>Field</th><th>Before</th><th aria-hidden="true" /><th>After</th></tr></thead>
      <tbody>{rows.map((r, i) => (
        <tr key={i}><td>{r.field}</td><td class="before">{r.before || <span class="muted">—</span>}</td><td aria-hidden="true">→</td><td class="after">{r.after || <span class="muted">(removed)</span>}</td></tr>
      ))}</tbody>
    </table>}
  </>;
}
