// pages/playground.tsx: the multi-flag playground (enter an end user's key
// and properties, see what every flag of the environment serves them and
// why), and UserServes, the table it shares with the end-user page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, apiPaths, Env, Flag, request } from '../api';
import { Busy, Field, FormError, Page, Spinner } from '../ui';
import '../target.css';

export interface Prop { name: string; value: string }
export interface EvalUser { keyId: string; name: string; customizedProperties: Prop[] }

// What one flag serves: the evaluate route's answer, the parts shown here.
export interface Served {
  flagKey: string; flagName?: string; enabled: boolean; archived: boolean; targetedBy: number;
  result: { variation: { id: string; name: string; value: string } | null; kind: string; ruleIndex: number; matchReason: string; sendToExperiment: boolean };
  error?: string;
}

const BATCH_ROUTE = '/api/v1/envs/{envId}/evaluate';
const MAX_FLAGS = 1000; // the flag list's page limit
const POOL = 4; // evaluations in flight without the batch route

// parseProps reads "country=FR, plan=pro" (or one per line).
export function parseProps(text: string): Prop[] {
  return text.split(/[,\n]/).map((p) => p.split('=')).filter((p) => p[0]?.trim())
    .map(([n, ...v]) => ({ name: n.trim(), value: v.join('=').trim() }));
}

// evaluateAll asks what every flag serves the user: the batch route when the
// API has it, else one evaluation per flag (POOL at a time).
export async function evaluateAll(env: Env, user: EvalUser, flags: Flag[]): Promise<Served[]> {
  const names = new Map(flags.map((f) => [f.key, f.name]));
  if ((await apiPaths()).has(BATCH_ROUTE)) {
    const r = await request<{ items: Served[] }>('POST', `/api/v1/envs/${encodeURIComponent(env.id)}/evaluate`, user);
    return (r.items || []).map((x) => ({ ...x, flagName: names.get(x.flagKey) || x.flagName }));
  }
  const out: Served[] = new Array(flags.length);
  let next = 0;
  const worker = async () => {
    while (next < flags.length) {
      const i = next++;
      const f = flags[i];
      try {
        const x = await request<Served>('POST', `/api/v1/envs/${encodeURIComponent(env.id)}/flags/${encodeURIComponent(f.key)}/evaluate`, user);
        out[i] = { ...x, flagKey: f.key, flagName: f.name };
      } catch (e) {
        out[i] = { flagKey: f.key, flagName: f.name, enabled: f.isEnabled, archived: f.isArchived, targetedBy: -1, error: (e as Error).message,
          result: { variation: null, kind: 'error', ruleIndex: -1, matchReason: '', sendToExperiment: false } };
      }
    }
  };
  await Promise.all(Array.from({ length: POOL }, worker));
  return out;
}

// why says in words why a flag serves what it serves.
export function why(s: Served, f?: Flag): string {
  if (s.error) return 'error: ' + s.error;
  switch (s.result.kind) {
    case 'archived': return 'the flag is archived';
    case 'disabled': return 'the flag is off: off variation';
    case 'targeted': return 'individually targeted';
    case 'rule': {
      const r = f?.rules[s.result.ruleIndex];
      return `rule ${s.result.ruleIndex + 1} matched${r?.name || s.result.matchReason ? ` (“${r?.name || s.result.matchReason}”)` : ''}`;
    }
    case 'fallthrough': return 'no rule matched: default rule';
  }
  return s.result.matchReason || s.result.kind;
}

const KIND_LABEL: Record<string, string> = { rule: 'rule', targeted: 'targeted', fallthrough: 'default', disabled: 'off', archived: 'archived', error: 'error' };

// UserServes: the table of every flag and what it serves the user.
export function UserServes({ env, user, rev }: { env: Env; user: EvalUser | null; rev: number }) {
  const [flags, setFlags] = useState<Flag[] | null>(null);
  const [rows, setRows] = useState<Served[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [q, setQ] = useState('');
  const [kind, setKind] = useState('');
  const seq = useRef(0);
  useEffect(() => {
    api.flags(env.id, { limit: MAX_FLAGS }).then((l) => setFlags(l.items)).catch(setErr);
  }, [env.id]);
  useEffect(() => {
    if (!flags || !user || !user.keyId) return;
    const my = ++seq.current;
    setErr(null); setRows(null);
    evaluateAll(env, user, flags).then((r) => { if (my === seq.current) setRows(r); }).catch((e) => { if (my === seq.current) setErr(e); });
  }, [flags, rev]);
  if (err) return <FormError err={err} />;
  if (!user || !user.keyId) return null;
  if (!rows || !flags) return <Spinner label="Evaluating every flag…" />;
  const byKey = new Map(flags.map((f) => [f.key, f]));
  const ql = q.trim().toLowerCase();
  const shown = rows.filter((r) => (!ql || r.flagKey.toLowerCase().includes(ql) || (r.flagName || '').toLowerCase().includes(ql)
    || (r.result.variation?.name || r.result.variation?.value || '').toLowerCase().includes(ql))
    && (!kind || r.result.kind === kind));
  return (
    <section aria-label="What every flag serves">
      <div class="filters" role="search">
        <Field label="Filter flags" value={q} onInput={setQ} type="search" placeholder="flag key, name or variation" class="grow" />
        <div class="field">
          <label for="pg-kind">Reason</label>
          <select id="pg-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {['rule', 'targeted', 'fallthrough', 'disabled', 'archived'].map((k) => <option key={k} value={k}>{KIND_LABEL[k]}</option>)}
          </select>
        </div>
      </div>
      <table class="list compact serves" aria-label={`Flags served to ${user.keyId}`}>
        <thead><tr><th>Flag</th><th>Serves</th><th>Why</th></tr></thead>
        <tbody>
          {shown.map((r) => {
            const v = r.result.variation;
            return (
              <tr key={r.flagKey} data-testid={'serves-' + r.flagKey}>
                <td><a href={`/envs/${env.id}/flags/${encodeURIComponent(r.flagKey)}`}>{r.flagName || r.flagKey}</a> <span class="mono muted">{r.flagKey}</span></td>
                <td><b>{v ? v.name || v.value : '—'}</b>{v && v.name && v.value !== v.name && <span class="muted mono"> {v.value}</span>}</td>
                <td class="why"><span class={'kind k-' + r.result.kind}>{KIND_LABEL[r.result.kind] || r.result.kind}</span> {why(r, byKey.get(r.flagKey))}{r.result.sendToExperiment && ' · in experiment'}</td>
              </tr>
            );
          })}
          {shown.length === 0 && <tr><td colSpan={3} class="muted">No flag matches the filter.</td></tr>}
        </tbody>
      </table>
      <p class="muted">{shown.length} of {rows.length} flags{flags.length >= MAX_FLAGS ? ` (the first ${MAX_FLAGS})` : ''}.</p>
    </section>
  );
}

export function Playground({ env }: { env: Env }) {
  const [keyId, setKeyId] = useState('');
  const [props, setProps] = useState('');
  const [user, setUser] = useState<EvalUser | null>(null);
  const [rev, setRev] = useState(0);
  const [err, setErr] = useState<unknown>(null);
  const [known, setKnown] = useState<string[]>([]);
  useEffect(() => { api.endUserProps(env.id).then((r) => setKnown(r.items || [])).catch(() => {}); }, [env.id]);
  return (
    <Page title="Playground">
      <p class="muted">What does every flag in {env.name} serve an end user, and why? Flags are evaluated as saved, with the edge's evaluator; nothing is recorded.</p>
      <form class="card" aria-label="Playground user" onSubmit={(e) => e.preventDefault()}>
        <div class="row">
          <Field label="User key" value={keyId} onInput={setKeyId} err={err} field="keyId" required />
          <Field label="User properties" value={props} onInput={setProps} class="grow" placeholder="country=FR, plan=pro"
            hint={known.length ? 'Known properties: ' + known.slice(0, 12).join(', ') : undefined} />
        </div>
        <Busy type="submit" class="primary" onClick={async () => {
          setErr(null);
          if (!keyId.trim()) { setErr(new ApiError(400, 'invalid', 'required', 'keyId')); return; }
          setUser({ keyId: keyId.trim(), name: keyId.trim(), customizedProperties: parseProps(props) });
          setRev((n) => n + 1);
        }}>Evaluate every flag</Busy>
        <FormError err={err} fields={['keyId']} />
      </form>
      <UserServes env={env} user={user} rev={rev} />
    </Page>
  );
}
