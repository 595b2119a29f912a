// pages/sso.tsx: single sign-on. SSOButtons are the login page's "Sign in
// with …" buttons of an organization (?org=<id> in the URL, remembered);
// SSOFinish collects the session when the issuer sent the browser back
// (/sso); SingleSignOn is the organization's page (admins): issuers, their
// claim -> group mapping, linking one's own account, and "forbid password".
import { useEffect, useState } from 'preact/hooks';
import { api, Group, SSOButton, SSOIssuer, SSOIssuerRequest, SSOSettings } from '../api';
import { Busy, CopyButton, Field, FormError, Page, Spinner, Switch, useSession } from '../ui';
import { useCan } from '../perm';

const SSO_ORG = 'sy.ssoOrg';

// ssoOrg is the organization whose buttons the login page shows.
export function ssoOrg(): string {
  const q = new URLSearchParams(location.search).get('org');
  if (q) localStorage.setItem(SSO_ORG, q);
  return q || localStorage.getItem(SSO_ORG) || '';
}

async function go(issuerId: string, link = false) {
  const r = await api.ssoStart(issuerId, link);
  location.assign(r.url);
}

export function SSOButtons() {
  const [items, setItems] = useState<SSOButton[]>([]);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    const org = ssoOrg();
    if (org) api.ssoButtons(org).then((r) => setItems(r.items)).catch(() => setItems([]));
  }, []);
  if (!items.length) return null;
  return (
    <div class="sso">
      <p class="muted">or</p>
      <FormError err={err} />
      {items.map((x) => (
        <Busy key={x.id} type="button" onClick={() => go(x.id).catch(setErr)} busyText="Redirecting…">Sign in with {x.name}</Busy>
      ))}
    </div>
  );
}

export function SSOFinish({ onLogin }: { onLogin: (t: string) => void }) {
  const [err, setErr] = useState<string>('');
  useEffect(() => {
    api.ssoSession().then((r) => {
      onLogin(r.token);
      history.replaceState(null, '', '/');
    }).catch((e) => setErr(new URLSearchParams(location.search).get('error') || (e as Error).message));
  }, []);
  return (
    <main class="login">
      <div class="card">
        <h1>Switchyard</h1>
        {err ? <>
          <p class="error" role="alert">Single sign-on failed: {err}</p>
          <a href="/">Back to sign-in</a>
        </> : <Spinner />}
      </div>
    </main>
  );
}

const emptyForm = (): SSOIssuerRequest => ({
  name: '', issuerUrl: '', clientId: '', clientSecret: '', scopes: [], trustEmail: false, role: 'viewer', groupClaim: 'groups', groupMap: {},
});

export function SingleSignOn({ orgId }: { orgId: string }) {
  const can = useCan({ org: orgId });
  const manage = can('access:manage'); // issuers and the password rule
  const [items, setItems] = useState<SSOIssuer[] | null>(null);
  const [settings, setSettings] = useState<SSOSettings | null>(null);
  const [groups, setGroups] = useState<Group[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [adding, setAdding] = useState(false);
  const load = () => Promise.all([api.ssoIssuers(orgId), api.ssoSettings(orgId)])
    .then(([xs, st]) => { setItems(xs.items); setSettings(st); setErr(null); }).catch(setErr);
  useEffect(() => {
    load();
    api.groups(orgId).then((r) => setGroups(r.items)).catch(() => setGroups([]));
  }, [orgId]);
  const gname = (id: string) => groups.find((g) => g.id === id)?.name || id;
  return (
    <Page title="Single sign-on" actions={manage && !adding && <button type="button" class="primary" onClick={() => setAdding(true)}>Add issuer</button>}>
      <p class="muted">OpenID Connect issuers members sign in with (authorization code with PKCE). New accounts join this organization with the issuer's role; the group claim maps to groups.</p>
      {can.ready && !manage && <p class="hint why" role="note">{can.why('access:manage')}</p>}
      <FormError err={err} />
      {adding && <IssuerForm orgId={orgId} groups={groups} onCancel={() => setAdding(false)} onSaved={() => { setAdding(false); load(); }} />}
      {!items || !settings ? <Spinner /> : <>
        <table class="list">
          <thead><tr><th>Issuer</th><th>Role</th><th>Groups</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {items.map((x) => (
              <tr key={x.id}>
                <td><b>{x.name}</b><div class="mono muted">{x.issuerUrl}</div>
                  {x.loginUrl && <div class="muted">Sign-in page: <code class="mono">{x.loginUrl}</code> <CopyButton text={x.loginUrl} label={`Copy sign-in page of ${x.name}`} /></div>}</td>
                <td>{x.role}</td>
                <td>{Object.entries(x.groupMap || {}).map(([k, g]) => <div key={k}><code>{x.groupClaim}</code> = {k} → {gname(g)}</div>)}</td>
                <td>
                  <button type="button" onClick={() => go(x.id, true).catch(setErr)}>Link my account</button>
                  {manage && <button type="button" class="danger" onClick={async () => {
                    if (!confirm(`Remove ${x.name}?`)) return;
                    try { await api.deleteSSOIssuer(orgId, x.id); load(); } catch (e) { setErr(e); }
                  }}>Remove</button>}
                </td>
              </tr>
            ))}
            {!items.length && <tr><td colSpan={4} class="muted">No issuers yet.</td></tr>}
          </tbody>
        </table>
        {manage && <div class="card">
          <Switch checked={settings.forbidPassword} label="Forbid password sign-in for this organization"
            onChange={async (v) => { try { setSettings(await api.putSSOSettings(orgId, v, settings.version)); } catch (e) { setErr(e); } }} />
          <span> Forbid password sign-in: members act here only with a session from one of these issuers.</span>
        </div>}
      </>}
    </Page>
  );
}

function IssuerForm({ orgId, groups, onCancel, onSaved }: { orgId: string; groups: Group[]; onCancel: () => void; onSaved: () => void }) {
  const [f, setF] = useState<SSOIssuerRequest>(emptyForm());
  const [scopes, setScopes] = useState('email profile groups');
  const [map, setMap] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const set = (k: keyof SSOIssuerRequest) => (v: string) => setF({ ...f, [k]: v });
  const save = async () => {
    setErr(null);
    const groupMap: Record<string, string> = {};
    for (const line of map.split('\n')) {
      const [k, g] = line.split('=').map((x) => x.trim());
      if (!k) continue;
      groupMap[k] = groups.find((x) => x.name === g)?.id || g || '';
    }
    try {
      await api.createSSOIssuer(orgId, { ...f, scopes: scopes.split(/\s+/).filter(Boolean), groupMap, groupClaim: Object.keys(groupMap).length ? f.groupClaim : '' });
      onSaved();
    } catch (e) { setErr(e); }
  };
  return (
    <form class="card" aria-label="Add issuer" onSubmit={(e) => e.preventDefault()}>
      <Field label="Name (the button says “Sign in with …”)" value={f.name} onInput={set('name')} err={err} field="name" required />
      <Field label="Issuer URL" value={f.issuerUrl} onInput={set('issuerUrl')} err={err} field="issuerUrl" placeholder="https://id.example.com" required />
      <Field label="Client ID" value={f.clientId} onInput={set('clientId')} err={err} field="clientId" required />
      <Field label="Client secret" value={f.clientSecret} onInput={set('clientSecret')} err={err} field="clientSecret" type="password" autoComplete="off" />
      <Field label="Scopes (besides openid)" value={scopes} onInput={setScopes} err={err} field="scopes" />
      <Field label="Role of new accounts (viewer or editor)" value={f.role} onInput={set('role')} err={err} field="role" />
      <Field label="Group claim" value={f.groupClaim} onInput={set('groupClaim')} err={err} field="groupClaim" />
      <label class="field">Group mapping, one per line: claim value = group name
        <textarea aria-label="Group mapping" value={map} onInput={(e) => setMap((e.target as HTMLTextAreaElement).value)} placeholder="eng = engineering" />
      </label>
      <label><input type="checkbox" checked={f.trustEmail} onChange={(e) => setF({ ...f, trustEmail: (e.target as HTMLInputElement).checked })} /> Trust this issuer's email addresses without email_verified</label>
      <FormError err={err} fields={['name', 'issuerUrl', 'clientId', 'clientSecret', 'scopes', 'role', 'groupClaim']} />
      <div class="actions">
        <Busy type="submit" class="primary" onClick={save} busyText="Saving…">Save issuer</Busy>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
