// pages/org.tsx: members, invitations and access tokens of an organization,
// and the page that accepts an invitation.
import { useEffect, useState } from 'preact/hooks';
import { AccessToken, api, Invitation, Member } from '../api';
import { Busy, CopyButton, Field, FormError, Page, Select, Spinner, fmtTime, rank, useSession } from '../ui';
import { useCan } from '../perm';
import { AccessGroup, gov, Policy } from '../govapi';

const ROLES = ['viewer', 'editor', 'admin', 'owner'];

export function Members({ orgId }: { orgId: string }) {
  const s = useSession();
  const can = useCan({ org: orgId });
  const manage = can('member:manage');
  const [items, setItems] = useState<Member[] | null>(null);
  const [invites, setInvites] = useState<Invitation[]>([]);
  const [groups, setGroups] = useState<AccessGroup[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [form, setForm] = useState({ email: '', role: 'viewer' });
  const [formErr, setFormErr] = useState<unknown>(null);
  const [link, setLink] = useState<{ email: string; role: string; url: string } | null>(null);
  const load = () => {
    api.members(orgId).then((r) => setItems(r.items)).catch(setErr);
    gov.groups(orgId).then((r) => setGroups(r.items)).catch(() => setGroups([]));
    if (manage) api.invitations(orgId).then((r) => setInvites(r.items)).catch(setErr);
  };
  useEffect(() => { load(); }, [orgId, manage]);
  const roles = ROLES.filter((r) => rank(r) <= rank(s.role));
  return (
    <Page title="Members">
      {manage && <p class="muted">You can set roles up to your own ({s.role}){rank(s.role) < 4 ? '; only owners grant owner or change an owner' : ''}. An organization always keeps one owner.</p>}
      <FormError err={err} />
      {!items ? <Spinner /> : (
        <table class="list">
          <thead><tr><th>Email</th><th>Name</th><th>Role</th><th>Groups</th>{manage && <th><span class="sr-only">Actions</span></th>}</tr></thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.userId}>
                <td>{m.email}</td><td>{m.name}</td>
                <td>{manage ? <RoleEditor orgId={orgId} m={m} myRole={s.role} onDone={load} /> : <span class="badge">{m.role}</span>}</td>
                <td>{groups.filter((g) => (g.members || []).includes(m.userId)).map((g) => g.name).join(', ') || <span class="muted">—</span>}</td>
                {manage && <td>{rank(m.role) <= rank(s.role) && m.email !== s.me.user?.email &&
                  <Busy class="small danger" label={`Remove ${m.email}`} onClick={async () => {
                    if (!confirm(`Remove ${m.email} from the organization?`)) return;
                    try { await api.removeMember(orgId, m.userId); await load(); } catch (e) { setErr(e); }
                  }} busyText="Removing…">Remove</Busy>}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {manage && invites.length > 0 && (
        <table class="list" aria-label="Open invitations">
          <thead><tr><th>Invited email</th><th>Role</th><th>Expires</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {invites.map((v) => (
              <tr key={v.id}>
                <td>{v.email}</td><td><span class="badge">{v.role}</span></td><td class="muted">{fmtTime(v.expiresAt)}</td>
                <td>{rank(v.role) <= rank(s.role) && <Busy class="small danger" label={`Revoke invitation of ${v.email}`} onClick={async () => {
                  try { await api.revokeInvitation(orgId, v.id); await load(); } catch (e) { setErr(e); }
                }} busyText="Revoking…">Revoke</Busy>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {link && <div class="card notice" role="status">
        <p>Invitation for <b>{link.email}</b> as {link.role} — send this link to them; it is shown only now and works once:</p>
        <code class="mono" aria-label="Invitation link">{link.url}</code> <CopyButton text={link.url} label="Copy invitation link" />
      </div>}
      {manage && (
        <form class="card" aria-label="Invite member" onSubmit={(e) => e.preventDefault()}>
          <h2>Invite a member</h2>
          <p class="muted">The invitee opens the link: a new account sets its own password; an existing account signs in first.</p>
          <div class="row">
            <Field label="Member email" value={form.email} onInput={(v) => setForm({ ...form, email: v })} err={formErr} field="email" type="email" />
            <Select label="Member role" value={form.role} onChange={(v) => setForm({ ...form, role: v })} err={formErr} field="role"
              options={roles.map((r) => ({ value: r, label: r }))} />
          </div>
          <FormError err={formErr} fields={['email', 'role']} />
          <Busy type="submit" class="primary" onClick={async () => {
            setFormErr(null); setLink(null);
            try {
              const v = await api.invite(orgId, form.email, form.role);
              setLink({ email: v.email, role: v.role, url: location.origin + v.acceptPath });
              setForm({ email: '', role: 'viewer' });
              await load();
            } catch (e) { setFormErr(e); }
          }} busyText="Inviting…">Invite member</Busy>
        </form>
      )}
    </Page>
  );
}

// RoleEditor changes a member's role: only roles up to the caller's own are
// offered (owner only to owners); a member above the caller is shown, not
// editable; what the API refuses (the last owner, …) is shown in the row.
function RoleEditor({ orgId, m, myRole, onDone }: { orgId: string; m: Member; myRole: string; onDone: () => void }) {
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);
  const [gen, setGen] = useState(0); // a refused choice remounts the select on the stored role
  if (rank(m.role) > rank(myRole)) {
    const why = `${m.email} is ${m.role}, above your role (${myRole}): only an ${m.role} changes their role.`;
    return <span class="badge" title={why} aria-description={why}>{m.role}</span>;
  }
  const roles = ROLES.filter((r) => rank(r) <= rank(myRole));
  return (
    <div class="role-edit">
      <Select key={gen} label={`Role of ${m.email}`} hideLabel value={m.role} disabled={busy} options={roles.map((r) => ({ value: r, label: r }))}
        onChange={async (v) => {
          setErr(null); setSaved(''); setBusy(true);
          try { const r = await api.setMemberRole(orgId, m.email, v); setSaved(`now ${r.role}`); onDone(); }
          catch (e) { setErr(e); setGen((g) => g + 1); } finally { setBusy(false); }
        }} />
      {saved && <span role="status" class="saved">{saved}</span>}
      <FormError err={err} />
    </div>
  );
}

// Accept is the page an invitation link opens (/accept#token=…): with a
// session the signed-in user joins; without one a new account is created
// with the password typed here.
export function Accept({ signedIn, onDone }: { signedIn: boolean; onDone: () => void }) {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [done, setDone] = useState('');
  return (
    <main class="login">
      <form class="card" aria-label="Accept invitation" onSubmit={(e) => e.preventDefault()}>
        <h1>Join an organization</h1>
        {!token && <p class="form-error" role="alert">This link has no invitation token.</p>}
        {signedIn ? <p class="muted">Accept the invitation with the account you are signed in with.</p> : <>
          <p class="muted">New here? Choose your name and password. Already have an account? <a href="/">Sign in</a> first, then open the link again.</p>
          <Field label="Your name" value={name} onInput={setName} err={err} field="name" autoComplete="name" />
          <Field label="New password" value={password} onInput={setPassword} err={err} field="password" type="password" autoComplete="new-password" hint="8 to 72 characters." />
        </>}
        <FormError err={err} fields={signedIn ? [] : ['name', 'password']} />
        {done ? <p role="status" class="saved">{done} <a href="/" onClick={(e) => { e.preventDefault(); onDone(); }}>Continue</a></p> :
          <Busy type="submit" class="primary" disabled={!token} onClick={async () => {
            setErr(null);
            try {
              const r = await api.acceptInvitation(signedIn ? { token } : { token, password, name });
              setDone(r.joined ? `You joined as ${r.role}.` : `Done. Sign in as ${r.email} with your password.`);
            } catch (e) { setErr(e); }
          }} busyText="Accepting…">Accept invitation</Busy>}
      </form>
    </main>
  );
}

export function Tokens({ orgId }: { orgId: string }) {
  const s = useSession();
  const manage = useCan({ org: orgId })('token:manage');
  const [policies, setPolicies] = useState<Policy[]>([]);
  useEffect(() => { gov.policies(orgId).then((r) => setPolicies(r.items)).catch(() => setPolicies([])); }, [orgId]);
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
          <thead><tr><th>Name</th><th>Role</th><th>Prefix</th><th>Created</th><th>Policies</th>{manage && <th><span class="sr-only">Actions</span></th>}</tr></thead>
          <tbody>
            {items.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td><td><span class="badge">{t.role}</span></td><td class="mono">{t.prefix}…</td><td class="muted">{fmtTime(t.createdAt)}</td>
                <td>{policies.filter((p) => (p.principals || []).includes('token:' + t.id)).map((p) => p.name).join(', ') || <span class="muted">— (<a href={`/orgs/${orgId}/policies`}>attach</a>)</span>}</td>
                {manage && <td><Busy class="small danger" label={`Revoke ${t.name}`} onClick={async () => {
                  if (!confirm(`Revoke the token ${t.name}?`)) return;
                  try { await api.deleteToken(orgId, t.id); await load(); } catch (e) { setErr(e); }
                }} busyText="Revoking…">Revoke</Busy></td>}
              </tr>
            ))}
            {items.length === 0 && <tr><td colSpan={6} class="muted">No tokens.</td></tr>}
          </tbody>
        </table>
      )}
      {created && <div class="card notice" role="status">
        <p>Token <b>{created.name}</b> — copy it now, it is not shown again:</p>
        <code class="mono" aria-label="New token value">{created.token}</code> <CopyButton text={created.token} label="Copy new token" />
      </div>}
      {manage && (
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
