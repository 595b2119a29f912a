// pages/access.tsx: groups of members and policies (statements that allow or
// deny actions on resource patterns, attached to members, groups and access
// tokens) of an organization (docs/access.md). Writes need access:manage
// (admins); everyone who may read the organization sees them. The API's
// validation errors (statements[1].resources[0], principals[2], …) are
// shown next to the statement, line or list they name.
import { useEffect, useState } from 'preact/hooks';
import { AccessToken, api, ApiError, Member } from '../api';
import { AccessGroup, gov, Policy, Statement } from '../govapi';
import { Gated, useCan } from '../perm';
import { Field, FieldError, FormError, Page, Select, Spinner, useId } from '../ui';

// fieldMsg returns the API error for field or anything under it, with the
// part under it turned into words by sub (e.g. "[2]" → "line 3").
function fieldMsg(err: unknown, field: string, sub?: (rest: string) => string): string {
  if (!(err instanceof ApiError) || !err.field) return '';
  if (err.field === field) return err.message;
  if (err.field.startsWith(field + '[') || err.field.startsWith(field + '.')) {
    const rest = err.field.slice(field.length);
    return `${sub ? sub(rest) : rest}: ${err.message}`;
  }
  return '';
}
const lineOf = (rest: string) => { const m = /^\[(\d+)\]/.exec(rest); return m ? `line ${Number(m[1]) + 1}` : rest; };

// principals of the organization with readable names
interface Who { members: Member[]; groups: AccessGroup[]; tokens: AccessToken[] }
function useWho(orgId: string, rev: number): Who {
  const [w, setW] = useState<Who>({ members: [], groups: [], tokens: [] });
  useEffect(() => {
    Promise.all([
      api.members(orgId).then((r) => r.items).catch(() => [] as Member[]),
      gov.groups(orgId).then((r) => r.items).catch(() => [] as AccessGroup[]),
      api.tokens(orgId).then((r) => r.items).catch(() => [] as AccessToken[]), // needs token:manage
    ]).then(([members, groups, tokens]) => setW({ members, groups, tokens }));
  }, [orgId, rev]);
  return w;
}
function principalName(w: Who, p: string): string {
  const i = p.indexOf(':');
  const kind = p.slice(0, i), id = p.slice(i + 1);
  if (kind === 'user') return w.members.find((m) => m.userId === id)?.email || p;
  if (kind === 'group') return 'group ' + (w.groups.find((g) => g.id === id)?.name || id);
  if (kind === 'token') return 'token ' + (w.tokens.find((t) => t.id === id)?.name || id);
  return p;
}

// ---- groups ----

export function Groups({ orgId }: { orgId: string }) {
  const can = useCan({ org: orgId });
  const [rev, setRev] = useState(0);
  const who = useWho(orgId, rev);
  const [items, setItems] = useState<AccessGroup[] | null>(null);
  const [policies, setPolicies] = useState<Policy[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [editing, setEditing] = useState<AccessGroup | 'new' | null>(null);
  const load = () => {
    gov.groups(orgId).then((r) => setItems(r.items)).catch(setErr);
    gov.policies(orgId).then((r) => setPolicies(r.items)).catch(() => {});
    setRev((n) => n + 1);
  };
  useEffect(load, [orgId]);
  const manage = can.why('access:manage');
  return (
    <Page title="Groups" actions={!editing && <Gated class="primary" reason={manage} onClick={() => setEditing('new')}>Create group</Gated>}>
      <p class="muted">A group gathers members; policies attached to the group apply to each of them. Single sign-on can put members in groups from a claim.</p>
      {manage && can.ready && <p class="hint why" role="note">{manage}</p>}
      <FormError err={err} />
      {editing && <GroupForm orgId={orgId} who={who} group={editing === 'new' ? null : editing}
        onDone={() => { setEditing(null); load(); }} onCancel={() => setEditing(null)} />}
      {!items ? <Spinner /> : (
        <div class="scroll-x"><table class="list" aria-label="Groups">
          <thead><tr><th>Name</th><th>Members</th><th>Policies</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {items.map((g) => {
              const pols = policies.filter((p) => (p.principals || []).includes('group:' + g.id));
              return (
                <tr key={g.id} aria-label={`Group ${g.name}`}>
                  <td><b>{g.name}</b>{g.description && <div class="muted">{g.description}</div>}</td>
                  <td>{(g.members || []).length === 0 ? <span class="muted">nobody</span> : (g.members || []).map((u) => principalName(who, 'user:' + u)).join(', ')}</td>
                  <td>{pols.length === 0 ? <span class="muted">none</span> : pols.map((p) => p.name).join(', ')}</td>
                  <td><div class="buttons">
                    <Gated class="small" reason={manage} label={`Edit group ${g.name}`} onClick={() => setEditing(g)}>Edit</Gated>
                    <Gated class="small danger" label={`Delete group ${g.name}`}
                      reason={manage || (pols.length ? `Detach it from ${pols.map((p) => p.name).join(', ')} first.` : '')}
                      busyText="Deleting…" onClick={async () => {
                        if (!confirm(`Delete the group ${g.name}? Its members keep their role.`)) return;
                        setErr(null);
                        try { await gov.deleteGroup(orgId, g.id); load(); } catch (e) { setErr(e); }
                      }}>Delete</Gated>
                  </div></td>
                </tr>
              );
            })}
            {items.length === 0 && <tr><td colSpan={4} class="muted">No groups yet.</td></tr>}
          </tbody>
        </table></div>
      )}
    </Page>
  );
}

function GroupForm({ orgId, who, group, onDone, onCancel }: {
  orgId: string; who: Who; group: AccessGroup | null; onDone: () => void; onCancel: () => void;
}) {
  const [name, setName] = useState(group?.name || '');
  const [desc, setDesc] = useState(group?.description || '');
  const [members, setMembers] = useState<string[]>(group?.members || []);
  const [err, setErr] = useState<unknown>(null);
  const mid = useId('gm');
  const mmsg = fieldMsg(err, 'members', (rest) => {
    const m = /^\[(\d+)\]/.exec(rest);
    return m ? principalName(who, 'user:' + members[Number(m[1])]) : rest;
  });
  return (
    <form class="card" aria-label={group ? `Edit group ${group.name}` : 'Create group'} onSubmit={(e) => e.preventDefault()}>
      <h2>{group ? `Edit group ${group.name}` : 'New group'}</h2>
      <div class="row">
        <Field label="Group name" value={name} onInput={setName} err={err} field="name" />
        <Field label="Group description" value={desc} onInput={setDesc} err={err} field="description" class="grow" />
      </div>
      <fieldset aria-describedby={mmsg ? mid : undefined}>
        <legend>Members of the group</legend>
        {who.members.map((m) => <label class="check" key={m.userId}><input type="checkbox" checked={members.includes(m.userId)}
          onChange={(e) => setMembers((e.target as HTMLInputElement).checked ? [...members, m.userId] : members.filter((x) => x !== m.userId))} />
          {m.email} <span class="badge">{m.role}</span></label>)}
        <FieldError id={mid} msg={mmsg} />
      </fieldset>
      <FormError err={err} fields={['name', 'description', 'members']} />
      <div class="buttons">
        <Gated type="submit" class="primary" busyText="Saving…" onClick={async () => {
          setErr(null);
          const body = { name, description: desc, members, version: group?.version };
          try { await (group ? gov.updateGroup(orgId, group.id, body) : gov.createGroup(orgId, body)); onDone(); } catch (e) { setErr(e); }
        }}>{group ? 'Save group' : 'Create group'}</Gated>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

// ---- policies ----

// useKnownPatterns lists patterns for the organization's projects and
// environments (suggestions under each statement's patterns).
function useKnownPatterns(orgId: string): string[] {
  const [ps, setPs] = useState<string[]>([]);
  useEffect(() => {
    let stop = false;
    (async () => {
      const out = new Set<string>(['*', 'org']);
      const envKeys = new Set<string>();
      try {
        for (const p of (await api.projects(orgId)).items) {
          out.add(`project/${p.key}`);
          for (const e of (await api.envs(p.id)).items) { out.add(`project/${p.key}/env/${e.key}`); envKeys.add(e.key); }
        }
      } catch { /* suggestions only */ }
      for (const k of envKeys) out.add(`project/*/env/${k}`);
      if (!stop) setPs([...out]);
    })();
    return () => { stop = true; };
  }, [orgId]);
  return ps;
}

// sentence reads a statement: "allow flag:write, flag:toggle on project/*/env/dev".
export const sentence = (s: Statement) =>
  `${s.effect} ${(s.actions || []).join(', ') || '(no action)'} on ${(s.resources || []).join(', ') || '(no resource)'}`;

export function Policies({ orgId }: { orgId: string }) {
  const can = useCan({ org: orgId });
  const [rev, setRev] = useState(0);
  const who = useWho(orgId, rev);
  const [items, setItems] = useState<Policy[] | null>(null);
  const [actions, setActions] = useState<string[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [editing, setEditing] = useState<Policy | 'new' | null>(null);
  const known = useKnownPatterns(orgId);
  const load = () => { gov.policies(orgId).then((r) => setItems(r.items)).catch(setErr); setRev((n) => n + 1); };
  useEffect(() => { load(); gov.actions().then((r) => setActions(r.items)).catch(() => {}); }, [orgId]);
  const manage = can.why('access:manage');
  return (
    <Page title="Policies" actions={!editing && <Gated class="primary" reason={manage} onClick={() => setEditing('new')}>Create policy</Gated>}>
      <p class="muted">A policy's statements allow or deny actions on resources — <code>org</code>, <code>project/shop</code>,
        <code>project/shop/env/prod</code>, with globs such as <code>project/*/env/prod</code> — for the members, groups and access
        tokens it is attached to. Allow widens a member's role, deny narrows it, deny wins; owners are never restricted.</p>
      {manage && can.ready && <p class="hint why" role="note">{manage}</p>}
      <FormError err={err} />
      {editing && <PolicyForm orgId={orgId} who={who} actions={actions} known={known} policy={editing === 'new' ? null : editing}
        onDone={() => { setEditing(null); load(); }} onCancel={() => setEditing(null)} />}
      {!items ? <Spinner /> : <>
        {items.length === 0 && <p class="muted">No policies: every member and token acts with its role.</p>}
        {items.map((p) => (
          <section class="card" key={p.id} aria-label={`Policy ${p.name}`}>
            <div class="page-head">
              <h2>{p.name}</h2>
              <div class="buttons">
                <Gated class="small" reason={manage} label={`Edit policy ${p.name}`} onClick={() => setEditing(p)}>Edit</Gated>
                <Gated class="small danger" reason={manage} label={`Delete policy ${p.name}`} busyText="Deleting…" onClick={async () => {
                  if (!confirm(`Delete the policy ${p.name}? Whoever it is attached to goes back to their role.`)) return;
                  setErr(null);
                  try { await gov.deletePolicy(orgId, p.id); load(); } catch (e) { setErr(e); }
                }}>Delete</Gated>
              </div>
            </div>
            {p.description && <p class="muted">{p.description}</p>}
            <ul aria-label={`Statements of ${p.name}`}>{(p.statements || []).map((s, i) =>
              <li key={i} class={'stmt ' + s.effect}><span class={'badge ' + (s.effect === 'allow' ? 'ok' : 'deny')}>{s.effect}</span> {(s.actions || []).join(', ')} on <code>{(s.resources || []).join(', ')}</code></li>)}</ul>
            <p>Attached to: {(p.principals || []).length === 0 ? <span class="muted">nobody</span> : (p.principals || []).map((x) => principalName(who, x)).join(', ')}</p>
          </section>
        ))}
      </>}
    </Page>
  );
}

interface Draft { effect: string; actions: string[]; resources: string }

function PolicyForm({ orgId, who, actions, known, policy, onDone, onCancel }: {
  orgId: string; who: Who; actions: string[]; known: string[]; policy: Policy | null; onDone: () => void; onCancel: () => void;
}) {
  const [name, setName] = useState(policy?.name || '');
  const [desc, setDesc] = useState(policy?.description || '');
  const [stmts, setStmts] = useState<Draft[]>((policy?.statements || []).map((s) => ({ effect: s.effect, actions: s.actions || [], resources: (s.resources || []).join('\n') }))
    .concat(policy ? [] : [{ effect: 'allow', actions: [], resources: '' }]));
  const [principals, setPrincipals] = useState<string[]>(policy?.principals || []);
  const [err, setErr] = useState<unknown>(null);
  const pid = useId('pp');
  const set = (i: number, d: Partial<Draft>) => setStmts(stmts.map((s, j) => (j === i ? { ...s, ...d } : s)));
  const pmsg = fieldMsg(err, 'principals', (rest) => {
    const m = /^\[(\d+)\]/.exec(rest);
    return m ? principalName(who, principals[Number(m[1])] || '') : rest;
  });
  const pick = (p: string, label: string) => (
    <label class="check" key={p}><input type="checkbox" checked={principals.includes(p)}
      onChange={(e) => setPrincipals((e.target as HTMLInputElement).checked ? [...principals, p] : principals.filter((x) => x !== p))} /> {label}</label>
  );
  return (
    <form class="card" aria-label={policy ? `Edit policy ${policy.name}` : 'Create policy'} onSubmit={(e) => e.preventDefault()}>
      <h2>{policy ? `Edit policy ${policy.name}` : 'New policy'}</h2>
      <div class="row">
        <Field label="Policy name" value={name} onInput={setName} err={err} field="name" />
        <Field label="Policy description" value={desc} onInput={setDesc} err={err} field="description" class="grow" />
      </div>
      {stmts.map((s, i) => <StatementEditor key={i} i={i} s={s} actions={actions} known={known} err={err} onChange={(d) => set(i, d)}
        onRemove={stmts.length > 1 ? () => setStmts(stmts.filter((_, j) => j !== i)) : undefined} />)}
      <FieldError id={pid + '-st'} msg={fieldMsg(err, 'statements')} />
      <button type="button" class="small" onClick={() => setStmts([...stmts, { effect: 'allow', actions: [], resources: '' }])}>Add statement</button>
      <fieldset aria-describedby={pmsg ? pid : undefined}>
        <legend>Attached to</legend>
        {who.groups.length > 0 && <div class="muted">Groups</div>}
        {who.groups.map((g) => pick('group:' + g.id, `Group ${g.name}`))}
        <div class="muted">Members</div>
        {who.members.map((m) => pick('user:' + m.userId, `${m.email} (${m.role})`))}
        {who.tokens.length > 0 && <div class="muted">Access tokens</div>}
        {who.tokens.map((t) => pick('token:' + t.id, `Token ${t.name} (${t.role})`))}
        {principals.filter((p) => principalName(who, p) === p).map((p) => pick(p, `${p} (not found)`))}
        <FieldError id={pid} msg={pmsg} />
      </fieldset>
      <FormError err={err} fields={['name', 'description', 'statements', 'principals']} />
      <div class="buttons">
        <Gated type="submit" class="primary" busyText="Saving…" onClick={async () => {
          setErr(null);
          const body = {
            name, description: desc, principals, version: policy?.version,
            statements: stmts.map((s) => ({ effect: s.effect, actions: s.actions, resources: s.resources.split('\n').map((r) => r.trim()).filter((r) => r) })),
          };
          try { await (policy ? gov.updatePolicy(orgId, policy.id, body) : gov.createPolicy(orgId, body)); onDone(); } catch (e) { setErr(e); }
        }}>{policy ? 'Save policy' : 'Create policy'}</Gated>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function StatementEditor({ i, s, actions, known, err, onChange, onRemove }: {
  i: number; s: Draft; actions: string[]; known: string[]; err: unknown; onChange: (d: Partial<Draft>) => void; onRemove?: () => void;
}) {
  const lines = s.resources.split('\n').map((x) => x.trim()).filter((x) => x);
  const id = useId('st');
  const f = `statements[${i}]`;
  const amsg = fieldMsg(err, f + '.actions', (rest) => { const m = /^\[(\d+)\]/.exec(rest); return m ? s.actions[Number(m[1])] || rest : rest; });
  const rmsg = fieldMsg(err, f + '.resources', lineOf);
  return (
    <fieldset class="statement" aria-label={`Statement ${i + 1}`}>
      <legend>Statement {i + 1}</legend>
      <div class="row">
        <Select label={`Statement ${i + 1} effect`} value={s.effect} onChange={(v) => onChange({ effect: v })} err={err} field={f + '.effect'}
          options={[{ value: 'allow', label: 'allow' }, { value: 'deny', label: 'deny' }]} />
        {onRemove && <button type="button" class="small danger" onClick={onRemove}>Remove statement {i + 1}</button>}
      </div>
      <fieldset class="actions-pick" aria-describedby={amsg ? id + '-a' : undefined}>
        <legend>Statement {i + 1} actions</legend>
        {actions.map((a) => <label class="check" key={a}><input type="checkbox" checked={s.actions.includes(a)}
          onChange={(e) => onChange({ actions: (e.target as HTMLInputElement).checked ? [...s.actions, a] : s.actions.filter((x) => x !== a) })} /> <code>{a}</code></label>)}
        <FieldError id={id + '-a'} msg={amsg} />
      </fieldset>
      <div class="field">
        <label for={id + '-r'}>Statement {i + 1} resources (one pattern per line)</label>
        <textarea id={id + '-r'} rows={2} value={s.resources} placeholder={'project/*/env/dev\nproject/shop'}
          aria-invalid={rmsg ? 'true' : undefined} aria-describedby={rmsg ? id + '-rerr' : id + '-rh'}
          onInput={(e) => onChange({ resources: (e.target as HTMLTextAreaElement).value })} />
        <div class="hint" id={id + '-rh'}><code>*</code> everything, <code>org</code>, <code>project/KEY</code> (the project and its environments), <code>project/KEY/env/KEY</code>; keys may use <code>*</code>, <code>?</code>, <code>[a-z]</code>.</div>
        <FieldError id={id + '-rerr'} msg={rmsg} />
        {known.length > 0 && <div class="buttons suggest">
          <span class="hint">Add:</span>
          {known.filter((k) => !lines.includes(k)).slice(0, 24).map((k) => <button type="button" class="small link" key={k}
            aria-label={`Add pattern ${k} to statement ${i + 1}`} onClick={() => onChange({ resources: [...lines, k].join('\n') })}><code>{k}</code></button>)}
        </div>}
      </div>
    </fieldset>
  );
}
