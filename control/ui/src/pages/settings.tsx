// pages/settings.tsx: settings of an organization, a project and an
// environment: rename, delete (typing the name to confirm, after a list of
// what is lost), protection and required comments, SDK secrets with
// rotation and expiry. Every control is enabled only when the API says the
// caller may use it (perm.tsx); a refusal is shown next to the control.
import { useEffect, useState } from 'preact/hooks';
import { api, Env, EnvSettings, Member, Project } from '../api';
import { AccessGroup, gov } from '../govapi';
import { Can, Gated, useCan, YourAccess } from '../perm';
import { CopyButton, Field, FormError, Page, Select, Spinner, fmtTime, useSession } from '../ui';

// ---- organization ----

export function OrgSettings({ orgId }: { orgId: string }) {
  const can = useCan({ org: orgId });
  const [org, setOrg] = useState<{ name: string; key: string; version: number } | null>(null);
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [members, setMembers] = useState<number | null>(null);
  const [delErr, setDelErr] = useState<unknown>(null);
  useEffect(() => {
    gov.org(orgId).then((o) => { setOrg(o); setName(o.name); setKey(o.key); }).catch(setErr);
    api.projects(orgId).then((r) => setProjects(r.items)).catch(() => setProjects([]));
    api.members(orgId).then((r) => setMembers(r.total)).catch(() => {});
  }, [orgId]);
  if (!org) return <Page title="Organization settings">{err ? <FormError err={err} /> : <Spinner />}</Page>;
  return (
    <Page title={`Settings · ${org.name}`}>
      <form class="card" aria-label="Rename organization" onSubmit={(e) => e.preventDefault()}>
        <h2>Name</h2>
        <div class="row">
          <Field label="Organization name" value={name} onInput={setName} err={err} field="name" readOnly={!can('org:manage')} />
          <Field label="Organization key" value={key} onInput={setKey} err={err} field="key" readOnly={!can('org:manage')}
            hint="Used in URLs and exports; policies name projects and environments, not the organization." />
        </div>
        <FormError err={err} fields={['name', 'key']} />
        <Gated type="submit" class="primary" reason={can.why('org:manage')} explain busyText="Saving…" onClick={async () => {
          setErr(null); setSaved('');
          try {
            const o = await gov.renameOrg(orgId, name, key, org.version);
            setOrg(o); setSaved(`Saved as ${o.name}.`);
            setTimeout(() => location.reload(), 600); // the switcher shows the new name
          } catch (e) { setErr(e); }
        }}>Rename organization</Gated>
        {saved && <span role="status" class="saved"> {saved}</span>}
      </form>
      <section class="card" aria-labelledby="h-org-projects">
        <h2 id="h-org-projects">Projects</h2>
        {!projects ? <Spinner /> : projects.length === 0 ? <p class="muted">No projects.</p> : <ul>{projects.map((p) =>
          <li key={p.id}><a href={`/orgs/${orgId}/projects/${p.id}`}>{p.name}</a> <span class="muted mono">{p.key}</span></li>)}</ul>}
        <p class="muted">Members, groups, policies, access tokens and single sign-on have their own pages in the menu.</p>
      </section>
      <DangerZone what="organization" name={org.name} confirmWord={org.name}
        reason={can.why('org:delete') || (!projects ? 'Counting the projects…' : projects.length
          ? `Delete its ${projects.length === 1 ? 'project' : `${projects.length} projects`} first: ${projects.map((p) => p.name).join(', ')}.` : '')}
        lost={[
          members === null ? 'its members (their accounts stay, with their other organizations)' : `its ${members} member(s) (their accounts stay, with their other organizations)`,
          'its access tokens, which stop working at once, and open invitations',
          'its groups, policies and single sign-on issuers',
          'its webhooks (those subscribed to organization.deleted get that event first)',
          'its audit log (the deletion itself stays recorded)',
        ]}
        err={delErr} onDelete={async () => {
          setDelErr(null);
          try { await gov.deleteOrg(orgId); location.href = '/'; } catch (e) { setDelErr(e); }
        }} />
    </Page>
  );
}

// ---- project ----

export function ProjectSettings({ orgId, projectId }: { orgId: string; projectId: string }) {
  const can = useCan({ project: projectId });
  const [p, setP] = useState<Project | null>(null);
  const [envs, setEnvs] = useState<Env[]>([]);
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [envName, setEnvName] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [envErr, setEnvErr] = useState<unknown>(null);
  const [delErr, setDelErr] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const load = () => {
    gov.project(projectId).then((x) => { setP(x); setName(x.name); setKey(x.key); }).catch(setErr);
    api.envs(projectId).then((r) => setEnvs(r.items)).catch(setErr);
  };
  useEffect(load, [projectId]);
  if (!p) return <Page title="Project settings">{err ? <FormError err={err} /> : <Spinner />}</Page>;
  const manage = can.why('project:manage');
  return (
    <Page title={`Project settings · ${p.name}`}>
      <YourAccess can={can} />
      <form class="card" aria-label="Rename project" onSubmit={(e) => e.preventDefault()}>
        <h2>Name</h2>
        <div class="row">
          <Field label="Project name" value={name} onInput={setName} err={err} field="name" readOnly={!!manage} />
          <Field label="Project key" value={key} onInput={setKey} err={err} field="key" readOnly={!!manage}
            hint="Policies name resources by key (project/<key>/env/<key>): a new key changes which patterns match." />
        </div>
        <FormError err={err} fields={['name', 'key']} />
        <Gated type="submit" class="primary" reason={manage} explain busyText="Saving…" onClick={async () => {
          setErr(null); setSaved('');
          try { const x = await gov.renameProject(projectId, name, key, p.version); setP(x); setSaved(`Saved as ${x.name} (${x.key}).`); }
          catch (e) { setErr(e); }
        }}>Rename project</Gated>
        {saved && <span role="status" class="saved"> {saved}</span>}
      </form>
      <section class="card" aria-labelledby="h-proj-envs">
        <h2 id="h-proj-envs">Environments</h2>
        {envs.length === 0 ? <p class="muted">No environments.</p> : <ul>{envs.map((e) =>
          <li key={e.id}><a href={`/envs/${e.id}/settings`}>{e.name}</a> <span class="muted mono">{e.key}</span></li>)}</ul>}
        <div class="row">
          <Field label="New environment name" value={envName} onInput={setEnvName} err={envErr} field="name" readOnly={!!manage} />
          <Gated reason={manage} busyText="Creating…" onClick={async () => {
            setEnvErr(null);
            try { await api.createEnv(projectId, envName, '', ''); setEnvName(''); load(); } catch (e) { setEnvErr(e); }
          }}>Create environment</Gated>
        </div>
        <FormError err={envErr} fields={['name']} />
      </section>
      <DangerZone what="project" name={p.name} confirmWord={p.key} reason={manage || (envs.length ? `Delete its ${envs.length} environment(s) first: ${envs.map((e) => e.name).join(', ')}.` : '')}
        lost={[`the project ${p.name} (${p.key})`, 'its code references and stale-flag report']}
        err={delErr} onDelete={async () => {
          setDelErr(null);
          try { await gov.deleteProject(projectId); location.href = `/orgs/${orgId}`; } catch (e) { setDelErr(e); }
        }} />
    </Page>
  );
}

// DangerZone deletes after the caller typed the item's key (or name): the
// list says what is lost.
function DangerZone({ what, name, confirmWord, lost, reason, err, onDelete }: {
  what: string; name: string; confirmWord: string; lost: string[]; reason: string; err: unknown; onDelete: () => Promise<void>;
}) {
  const [typed, setTyped] = useState('');
  const [open, setOpen] = useState(false);
  return (
    <section class="card danger-zone" aria-labelledby={`h-del-${what}`}>
      <h2 id={`h-del-${what}`}>Delete this {what}</h2>
      {!open ? <Gated class="danger" reason={reason} explain onClick={() => setOpen(true)}>Delete {what}…</Gated> : <>
        <p>Deleting <b>{name}</b> cannot be undone. It deletes:</p>
        <ul aria-label="What is lost">{lost.map((l) => <li key={l}>{l}</li>)}</ul>
        <Field label={`Type ${confirmWord} to confirm`} value={typed} onInput={setTyped} err={err} field="confirm" autoComplete="off" />
        <FormError err={err} />
        <div class="buttons">
          <Gated class="danger" reason={typed.trim() === confirmWord ? reason : `Type ${confirmWord} exactly to enable this button.`} busyText="Deleting…"
            onClick={onDelete}>Delete {what} {name}</Gated>
          <button type="button" onClick={() => { setOpen(false); setTyped(''); }}>Cancel</button>
        </div>
      </>}
    </section>
  );
}

// ---- environment ----

export function EnvSettingsPage({ env }: { env: Env }) {
  const s = useSession();
  const can = useCan({ env: env.id });
  const [name, setName] = useState(env.name);
  const [key, setKey] = useState(env.key);
  const [desc, setDesc] = useState(env.description || '');
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [delErr, setDelErr] = useState<unknown>(null);
  const [counts, setCounts] = useState<{ flags: number; segments: number } | null>(null);
  useEffect(() => {
    Promise.all([api.flags(env.id, { limit: 1 }), api.segments(env.id)])
      .then(([f, sg]) => setCounts({ flags: f.total, segments: sg.total })).catch(() => {});
  }, [env.id]);
  const manage = can.why('env:manage');
  return (
    <Page title={`Settings · ${env.name}`}>
      <YourAccess can={can} />
      <form class="card" aria-label="Rename environment" onSubmit={(e) => e.preventDefault()}>
        <h2>Name</h2>
        <div class="row">
          <Field label="Environment name" value={name} onInput={setName} err={err} field="name" readOnly={!!manage} />
          <Field label="Environment key" value={key} onInput={setKey} err={err} field="key" readOnly={!!manage}
            hint="Policies name environments by key (project/<key>/env/<key>): a new key changes which patterns match." />
        </div>
        <Field label="Environment description" value={desc} onInput={setDesc} err={err} field="description" readOnly={!!manage} />
        <FormError err={err} fields={['name', 'key', 'description']} />
        <Gated type="submit" class="primary" reason={manage} explain busyText="Saving…" onClick={async () => {
          setErr(null); setSaved('');
          try { const e = await gov.renameEnv(env.id, name, key, desc); setSaved(`Saved as ${e.name} (${e.key}).`); s.reloadEnv(); }
          catch (e) { setErr(e); }
        }}>Rename environment</Gated>
        {saved && <span role="status" class="saved"> {saved}</span>}
      </form>
      <Protection env={env} can={can} />
      <Secrets env={env} can={can} />
      <DangerZone what="environment" name={env.name} confirmWord={env.key} reason={manage}
        lost={[
          counts ? `${counts.flags} flag(s) and their history, triggers and schedules` : 'its flags, their history, triggers and schedules',
          counts ? `${counts.segments} segment(s)` : 'its segments',
          'its metrics, experiments, end users and change requests',
          'its server and client SDK secrets: connected SDKs are disconnected and fall back to their defaults',
        ]}
        err={delErr} onDelete={async () => {
          setDelErr(null);
          try { await gov.deleteEnv(env.id); localStorage.removeItem('sy.lastEnv'); location.href = `/orgs/${env.orgId}`; } catch (e) { setDelErr(e); }
        }} />
    </Page>
  );
}

// Protection: required change comments, protected environment, number of
// approvals and who may approve (members and groups).
function Protection({ env, can }: { env: Env; can: Can }) {
  const [es, setEs] = useState<EnvSettings | null>(null);
  const [comment, setComment] = useState(false);
  const [prot, setProt] = useState(false);
  const [n, setN] = useState('1');
  const [approvers, setApprovers] = useState<string[]>([]);
  const [members, setMembers] = useState<Member[]>([]);
  const [groups, setGroups] = useState<AccessGroup[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const reset = (x: EnvSettings) => {
    setEs(x); setComment(x.requireComment); setProt(!!x.protected); setN(String(x.requiredApprovals || 1)); setApprovers(x.approvers || []);
  };
  useEffect(() => {
    api.envSettings(env.id).then(reset).catch(setErr);
    api.members(env.orgId).then((r) => setMembers(r.items)).catch(() => {});
    gov.groups(env.orgId).then((r) => setGroups(r.items)).catch(() => {});
  }, [env.id]);
  if (!es) return err ? <FormError err={err} /> : <Spinner />;
  const manage = can.why('env:manage');
  const ro = !!manage;
  const toggle = (p: string, on: boolean) => setApprovers(on ? [...approvers, p] : approvers.filter((x) => x !== p));
  const label = (p: string) => {
    const [kind, id] = [p.slice(0, p.indexOf(':')), p.slice(p.indexOf(':') + 1)];
    if (kind === 'group') return 'group ' + (groups.find((g) => g.id === id)?.name || id);
    return members.find((m) => m.userId === id)?.email || id;
  };
  return (
    <form class="card" aria-label="Protection" onSubmit={(e) => e.preventDefault()}>
      <h2>Protection and comments</h2>
      <label class="check"><input type="checkbox" checked={comment} disabled={ro} title={manage || undefined}
        onChange={(e) => setComment((e.target as HTMLInputElement).checked)} /> Require a change comment on every write in {env.name}</label>
      <p class="hint">When on, the UI asks for a comment before each change and the API refuses writes without one; comments appear in the audit log.</p>
      <label class="check"><input type="checkbox" checked={prot} disabled={ro} title={manage || undefined}
        onChange={(e) => setProt((e.target as HTMLInputElement).checked)} /> Protect {env.name}: changes need approval</label>
      <p class="hint">When on, saving a flag or segment opens a change request; it applies only after the approvals below. Triggers,
        schedules and copies into this environment are refused. The author of a request never approves it.</p>
      {prot && <>
        <Field label="Required approvals" value={n} onInput={setN} err={err} field="requiredApprovals" type="number" readOnly={ro} hint="1 to 10." />
        <fieldset aria-describedby="approvers-hint">
          <legend>Who may approve</legend>
          <p class="hint" id="approvers-hint">None chosen: anyone with the change:approve action here (admins and owners by role; groups through policies).
            Chosen: only these members and groups' members (they still need change:approve).</p>
          {groups.map((g) => <label class="check" key={g.id}><input type="checkbox" disabled={ro} checked={approvers.includes('group:' + g.id)}
            onChange={(e) => toggle('group:' + g.id, (e.target as HTMLInputElement).checked)} /> Group {g.name}</label>)}
          {members.map((m) => <label class="check" key={m.userId}><input type="checkbox" disabled={ro} checked={approvers.includes('user:' + m.userId)}
            onChange={(e) => toggle('user:' + m.userId, (e.target as HTMLInputElement).checked)} /> {m.email} <span class="badge">{m.role}</span></label>)}
          {approvers.filter((p) => !p.startsWith('group:') || !groups.some((g) => 'group:' + g.id === p))
            .filter((p) => !p.startsWith('user:') || !members.some((m) => 'user:' + m.userId === p))
            .map((p) => <label class="check" key={p}><input type="checkbox" disabled={ro} checked onChange={() => toggle(p, false)} /> {label(p)} (no longer found)</label>)}
        </fieldset>
      </>}
      <FormError err={err} fields={['requiredApprovals']} />
      <div class="buttons">
        <Gated type="submit" class="primary" reason={manage} explain busyText="Saving…" onClick={async () => {
          setErr(null); setSaved('');
          try {
            reset(await gov.putProtection(env.id, { requireComment: comment, protected: prot, requiredApprovals: Number(n) || 0, approvers }));
            setSaved('Saved.');
          } catch (e) { setErr(e); }
        }}>Save protection</Gated>
        {saved && <span role="status" class="saved">{saved}</span>}
        {es.protected && <a href={`/envs/${env.id}/change-requests`}>Change requests of {env.name}</a>}
      </div>
    </form>
  );
}

const EXPIRIES = [
  { value: 'now', label: 'at once (SDKs on the old secret are disconnected now)' },
  { value: '1h', label: 'in 1 hour' },
  { value: '24h', label: 'in 24 hours (default)' },
  { value: '168h', label: 'in 7 days' },
  { value: '720h', label: 'in 30 days' },
];

// Secrets lists every SDK secret with its expiry and rotates one: the new
// secret is added, the replaced one works until the chosen expiry.
function Secrets({ env, can }: { env: Env; can: Can }) {
  const s = useSession();
  const [exp, setExp] = useState<Record<string, string>>({ server: '24h', client: '24h' });
  const [err, setErr] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const rotate = can.why('secret:rotate');
  const secrets = [...env.secrets].sort((a, b) => a.type.localeCompare(b.type) || (a.expiresAt || 0) - (b.expiresAt || 0));
  return (
    <section class="card" aria-labelledby="h-env-secrets">
      <h2 id="h-env-secrets">SDK secrets</h2>
      {env.secrets.length === 0 ? <p class="notice" role="note">You may not see this environment's SDK secrets (they need the secret:read action on {can.resource}).</p> :
        <div class="scroll-x"><table class="list" aria-label="SDK secrets">
          <thead><tr><th>Type</th><th>Secret</th><th>Expires</th></tr></thead>
          <tbody>{secrets.map((x) => (
            <tr key={x.value}>
              <td>{x.type}</td>
              <td><code class="mono">{x.value.slice(0, 8)}…</code> <CopyButton text={x.value} label={`Copy ${x.type} secret ${x.value.slice(0, 8)}`} /></td>
              <td data-testid="secret-expiry">{x.expiresAt ? (x.expiresAt <= Date.now() ? 'expired' : 'works until ' + fmtTime(x.expiresAt)) : 'current (no expiry)'}</td>
            </tr>))}
          </tbody>
        </table></div>}
      {['server', 'client'].map((type) => (
        <div class="row" key={type}>
          <Select label={`Old ${type} secret stops working`} value={exp[type]} onChange={(v) => setExp({ ...exp, [type]: v })}
            options={EXPIRIES} disabled={!!rotate} err={err} field="expiresIn" />
          <Gated reason={rotate} busyText="Rotating…" label={`Rotate the ${type} secret`} onClick={async () => {
            setErr(null); setDone('');
            try {
              const e = await gov.rotateSecret(env.id, type, exp[type]);
              const old = e.secrets.filter((x) => x.type === type && x.expiresAt).map((x) => x.expiresAt || 0);
              setDone(`New ${type} secret added; ` + (exp[type] === 'now' ? 'the old one no longer works.' : `the old one works until ${fmtTime(Math.max(...old, 0))}.`));
              s.reloadEnv();
            } catch (e) { setErr(e); }
          }}>Rotate the {type} secret</Gated>
        </div>
      ))}
      {rotate && <p class="hint why">{rotate}</p>}
      {done && <p role="status" class="saved">{done}</p>}
      <FormError err={err} fields={['expiresIn']} />
      <p class="muted">SDKs keep working on the old secret until it expires; then the edge closes their connections with a retryable code. See the <a href={`/envs/${env.id}/sdk`}>SDK keys</a> page for snippets.</p>
    </section>
  );
}
