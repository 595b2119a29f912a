// pages/org.tsx: members and access tokens of an organization.
import { useEffect, useState } from 'preact/hooks';
import { AccessToken, api, Member } from '../api';
import { Busy, CopyButton, Field, FormError, Page, Select, Spinner, fmtTime, rank, useSession } from '../ui';

const ROLES = ['viewer', 'editor', 'admin', 'owner'];

export function Members({ orgId }: { orgId: string }) {
  const s = useSession();
  const [items, setItems] = useState<Member[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [form, setForm] = useState({ email: '', name: '', password: '', role: 'viewer' });
  const [formErr, setFormErr] = useState<unknown>(null);
  const [added, setAdded] = useState('');
  const load = () => api.members(orgId).then((r) => setItems(r.items)).catch(setErr);
  useEffect(() => { load(); }, [orgId]);
  const roles = ROLES.filter((r) => rank(r) <= rank(s.role));
  return (
    <Page title="Members">
      <FormError err={err} />
      {!items ? <Spinner /> : (
        <table class="list">
          <thead><tr><th>Email</th><th>Name</th><th>Role</th>{s.isAdmin && <th><span class="sr-only">Actions</span></th>}</tr></thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.userId}>
                <td>{m.email}</td><td>{m.name}</td><td><span class="badge">{m.role}</span></td>
                {s.isAdmin && <td>{rank(m.role) <= rank(s.role) && m.email !== s.me.user?.email &&
                  <Busy class="small danger" label={`Remove ${m.email}`} onClick={async () => {
                    if (!confirm(`Remove ${m.email} from the organization?`)) return;
                    try { await api.removeMember(orgId, m.userId); await load(); } catch (e) { setErr(e); }
                  }} busyText="Removing…">Remove</Busy>}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {s.isAdmin && (
        <form class="card" aria-label="Add member" onSubmit={(e) => e.preventDefault()}>
          <h2>Add a member</h2>
          <div class="row">
            <Field label="Member email" value={form.email} onInput={(v) => setForm({ ...form, email: v })} err={formErr} field="email" type="email" />
            <Field label="Member name" value={form.name} onInput={(v) => setForm({ ...form, name: v })} err={formErr} field="name" />
            <Field label="Initial password" value={form.password} onInput={(v) => setForm({ ...form, password: v })} err={formErr} field="password"
              type="password" autoComplete="new-password" hint="Needed when the account does not exist yet." />
            <Select label="Member role" value={form.role} onChange={(v) => setForm({ ...form, role: v })} err={formErr} field="role"
              options={roles.map((r) => ({ value: r, label: r }))} />
          </div>
          <FormError err={formErr} fields={['email', 'name', 'password', 'role']} />
          <Busy type="submit" class="primary" onClick={async () => {
            setFormErr(null); setAdded('');
            try {
              const m = await api.addMember(orgId, form);
              setAdded(`Added ${m.email} as ${m.role}.`);
              setForm({ email: '', name: '', password: '', role: 'viewer' });
              await load();
            } catch (e) { setFormErr(e); }
          }} busyText="Adding…">Add member</Busy>
          <span role="status" class="saved">{added}</span>
        </form>
      )}
    </Page>
  );
}

export function Tokens({ orgId }: { orgId: string }) {
  const s = useSession();
  const [items, setItems] = useState<AccessToken[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [formErr, setFormErr] = useState<unknown>(null);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const load = () => api.tokens(orgId).then((r) => setItems(r.items)).catch(setErr);
  useEffect(() => { load(); }, [orgId]);
  const roles = ROLES.filter((r) => rank(r) <= rank(s.role));
  return (
    <Page title="Access tokens">
      <p class="muted">Tokens let scripts and CI call the API with a role in this organization (Authorization: Bearer &lt;token&gt;).</p>
      <FormError err={err} />
      {!items ? <Spinner /> : (
        <table class="list">
          <thead><tr><th>Name</th><th>Role</th><th>Prefix</th><th>Created</th>{s.isAdmin && <th><span class="sr-only">Actions</span></th>}</tr></thead>
          <tbody>
            {items.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td><td><span class="badge">{t.role}</span></td><td class="mono">{t.prefix}…</td><td class="muted">{fmtTime(t.createdAt)}</td>
                {s.isAdmin && <td><Busy class="small danger" label={`Revoke ${t.name}`} onClick={async () => {
                  if (!confirm(`Revoke the token ${t.name}?`)) return;
                  try { await api.deleteToken(orgId, t.id); await load(); } catch (e) { setErr(e); }
                }} busyText="Revoking…">Revoke</Busy></td>}
              </tr>
            ))}
            {items.length === 0 && <tr><td colSpan={5} class="muted">No tokens.</td></tr>}
          </tbody>
        </table>
      )}
      {created && <div class="card notice" role="status">
        <p>Token <b>{created.name}</b> — copy it now, it is not shown again:</p>
        <code class="mono" aria-label="New token value">{created.token}</code> <CopyButton text={created.token} label="Copy new token" />
      </div>}
      {s.isAdmin && (
        <form class="card" aria-label="Create token" onSubmit={(e) => e.preventDefault()}>
          <h2>Create a token</h2>
          <div class="row">
            <Field label="Token name" value={name} onInput={setName} err={formErr} field="name" />
            <Select label="Token role" value={role} onChange={setRole} err={formErr} field="role" options={roles.map((r) => ({ value: r, label: r }))} />
          </div>
          <FormError err={formErr} fields={['name', 'role']} />
          <Busy type="submit" class="primary" onClick={async () => {
            setFormErr(null);
            try { const t = await api.createToken(orgId, name, role); setCreated({ name: t.name, token: t.token }); setName(''); await load(); }
            catch (e) { setFormErr(e); }
          }} busyText="Creating…">Create token</Busy>
        </form>
      )}
    </Page>
  );
}
