// app.tsx: login, the application shell (organization / project /
// environment switcher, navigation) and the routes.
import { useEffect, useState } from 'preact/hooks';
import { api, apiPaths, ApiError, Env, getToken, Me, Org, Project, request, setToken, setUnauthorizedHandler } from './api';
import { match, navigate, onLinkClick, usePath } from './router';
import { Busy, Field, FormError, rank, Select, Session, SessionCtx, Spinner, errText, useScrollableTables } from './ui';
import { FlagList } from './pages/flags';
import { FlagDetail } from './pages/flag';
import { Segments, SegmentDetail } from './pages/segments';
import { EndUsers } from './pages/endusers';
import { EndUserDetail } from './pages/enduser';
import { Playground } from './pages/playground';
import { Accept, Members, Tokens } from './pages/org';
import { SdkKeys } from './pages/sdk';
import { Insights } from './pages/insights';
import { Experiments } from './pages/experiments';
import { Placeholder, OrgHome } from './pages/orghome';
import { AuditLog } from './pages/audit';
import { Webhooks } from './pages/webhooks';
import { Schedules } from './pages/schedules';
import { ChangeRequestDetail, ChangeRequests } from './pages/changes';
import { EnvCompare } from './pages/envcompare';
import { CommentDialog } from './comment';
import { SingleSignOn, SSOButtons, SSOFinish } from './pages/sso';
import { EnvSettingsPage, OrgSettings, ProjectSettings } from './pages/settings';
import { Groups, Policies } from './pages/access';
import { useCan } from './perm';
import { ConnectedSDKs, SDKS_ROUTE } from './pages/sdks';
import { RouteFocus } from './routefocus';

const LAST_ENV = 'sy.lastEnv';

// Sections of an environment. Sections marked `route` appear only when the
// API (its OpenAPI document) has that route (an older control plane may not
// have the workflow routes).
interface Section { path: string; label: string; route?: string; action?: string }
const SECTIONS: Section[] = [
  { path: 'flags', label: 'Flags' },
  { path: 'segments', label: 'Segments' },
  { path: 'end-users', label: 'End users' },
  { path: 'playground', label: 'Playground' },
  { path: 'insights', label: 'Insights' },
  { path: 'experiments', label: 'Experiments' },
  { path: 'sdk', label: 'SDK keys' },
  { path: 'audit', label: 'Audit log', route: '/api/v1/envs/{envId}/audit' },
  { path: 'schedules', label: 'Schedules', route: '/api/v1/envs/{envId}/schedules' },
  { path: 'change-requests', label: 'Change requests', route: '/api/v1/envs/{envId}/change-requests' },
  { path: 'compare', label: 'Compare', route: '/api/v1/envs/{envId}/compare' },
  { path: 'connected-sdks', label: 'Connected SDKs', route: SDKS_ROUTE },
  { path: 'settings', label: 'Settings' },
  // triggers are per flag (/api/v1/envs/{envId}/flags/{key}/triggers): their
  // place is a section of the flag page
];
const ORG_SECTIONS: Section[] = [
  { path: 'settings', label: 'Organization settings' },
  { path: 'members', label: 'Members' },
  { path: 'groups', label: 'Groups', route: '/api/v1/orgs/{orgId}/groups' },
  { path: 'policies', label: 'Policies', route: '/api/v1/orgs/{orgId}/policies' },
  { path: 'tokens', label: 'Access tokens', action: 'token:manage' },
  { path: 'webhooks', label: 'Webhooks', route: '/api/v1/orgs/{orgId}/webhooks', action: 'webhook:manage' },
  { path: 'sso', label: 'Single sign-on', route: '/api/v1/orgs/{orgId}/sso/issuers' },
  { path: 'audit', label: 'Organization audit log', route: '/api/v1/orgs/{orgId}/audit' },
];

export function App() {
  const [token, setTok] = useState(getToken());
  const path = usePath();
  useEffect(() => {
    setUnauthorizedHandler(() => { setToken(''); setTok(''); });
  }, []);
  if (path === '/accept') return <Accept signedIn={!!token} onDone={() => { location.href = '/'; }} />;
  if (path === '/sso') return <SSOFinish onLogin={(t) => { setToken(t); setTok(t); navigate('/', true); }} />;
  if (!token) return <Login onLogin={(t) => { setToken(t); setTok(t); }} />;
  return <Shell logout={async () => {
    try { await api.logout(); } catch { /* the session may be gone already */ }
    setToken('');
    setTok('');
    navigate('/', true);
  }} />;
}

function Login({ onLogin }: { onLogin: (t: string) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const submit = async () => {
    setErr(null);
    try {
      const r = await api.login(email, password);
      onLogin(r.token);
    } catch (e) { setErr(e); }
  };
  return (
    <main class="login">
      <form class="card" onSubmit={(e) => { e.preventDefault(); }}>
        <h1>Switchyard</h1>
        <p class="muted">Sign in to manage feature flags.</p>
        <Field label="Email" value={email} onInput={setEmail} err={err} field="email" type="email" autoComplete="username" required />
        <Field label="Password" value={password} onInput={setPassword} err={err} field="password" type="password" autoComplete="current-password" required />
        <FormError err={err} fields={['email', 'password']} />
        <Busy type="submit" class="primary" onClick={submit} busyText="Signing in…">Sign in</Busy>
        <SSOButtons />
      </form>
    </main>
  );
}


interface Ctx { orgs: Org[]; org: Org | null; projects: Project[]; project: Project | null; envs: Env[]; env: Env | null }

function Shell({ logout }: { logout: () => void }) {
  const path = usePath();
  const [me, setMe] = useState<Me | null>(null);
  const [ctx, setCtx] = useState<Ctx | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [paths, setPaths] = useState<Set<string>>(new Set());
  const [envRev, setEnvRev] = useState(0);
  // narrow screens: the section navigation is collapsed behind "Menu" and
  // closes again on every navigation
  const [navOpen, setNavOpen] = useState(false);
  useEffect(() => setNavOpen(false), [path]);
  useScrollableTables();

  const envMatch = match('/envs/:env', path.split('/').slice(0, 3).join('/'));
  const orgMatch = match('/orgs/:org', path.split('/').slice(0, 3).join('/'));
  const envId = envMatch?.env || '';
  const orgParam = orgMatch?.org || '';

  useEffect(() => { apiPaths().then(setPaths); }, []);

  // who am I, which organizations
  useEffect(() => {
    (async () => {
      try {
        const [m, o] = await Promise.all([api.me(), api.orgs()]);
        setMe(m);
        setCtx({ orgs: o.items, org: null, projects: [], project: null, envs: [], env: null });
      } catch (e) { if (!(e instanceof ApiError && e.status === 401)) setErr(e); }
    })();
  }, []);

  // resolve the environment (or organization) in the URL
  useEffect(() => {
    if (!ctx || !me) return;
    let stop = false;
    (async () => {
      try {
        if (envId) {
          if (ctx.env?.id === envId && envRev === 0) return;
          const env = await api.env(envId);
          const org = ctx.orgs.find((o) => o.id === env.orgId) || null;
          const [ps, es] = await Promise.all([api.projects(env.orgId), api.envs(env.projectId)]);
          if (stop) return;
          localStorage.setItem(LAST_ENV, env.id);
          setCtx({ ...ctx, org, projects: ps.items, project: ps.items.find((p) => p.id === env.projectId) || null, envs: es.items, env });
          return;
        }
        if (orgParam) {
          if (ctx.env && ctx.env.orgId === orgParam) return; // keep the environment in the switcher
          const org = ctx.orgs.find((o) => o.id === orgParam) || null;
          const ps = await api.projects(orgParam);
          const project = ps.items[0] || null;
          const es = project ? await api.envs(project.id) : { items: [] as Env[] };
          if (stop) return;
          setCtx({ ...ctx, org, projects: ps.items, project, envs: es.items, env: null });
          return;
        }
        // no context in the URL: the last environment used, else the first one
        const last = localStorage.getItem(LAST_ENV);
        if (last) {
          try { await api.env(last); navigate(`/envs/${last}/flags`, true); return; } catch { localStorage.removeItem(LAST_ENV); }
        }
        await openOrg(ctx.orgs[0]?.id || '');
      } catch (e) { if (!stop) setErr(e); }
    })();
    return () => { stop = true; };
  }, [envId, orgParam, ctx?.orgs, me, envRev]);

  if (err) return <main class="login"><div class="card"><FormError err={err} /><button type="button" onClick={logout}>Sign out</button></div></main>;
  if (!me || !ctx) return <Spinner />;

  const orgId = ctx.env?.orgId || ctx.org?.id || '';
  const role = me.orgs.find((o) => o.orgId === orgId)?.role || '';
  const session: Session = {
    me, orgs: ctx.orgs, org: ctx.org, project: ctx.project, projects: ctx.projects, envs: ctx.envs, env: ctx.env,
    role, canEdit: rank(role) >= 2, isAdmin: rank(role) >= 3, logout,
    reloadEnv: () => setEnvRev((n) => n + 1),
  };
  const section = envId ? path.split('/')[3] || 'flags' : '';
  const orgSection = orgParam ? path.split('/')[3] || '' : '';

  return (
    <SessionCtx.Provider value={session}>
      <div class={'shell' + (navOpen ? ' nav-open' : '')} onClick={onLinkClick as any}>
        <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
        <header class="topbar">
          <button type="button" class="nav-toggle small" aria-expanded={navOpen ? 'true' : 'false'} aria-controls="sidenav"
            onClick={() => setNavOpen(!navOpen)}>Menu</button>
          <a class="brand" href="/">Switchyard</a>
          <Switcher ctx={ctx} />
          <div class="who">
            <span class="muted"><span class="who-name">{me.user?.email || me.token?.name}</span> · <span class="role-badge" data-testid="role">{role || 'no role'}</span></span>
            <button type="button" class="small" onClick={logout}>Sign out</button>
          </div>
        </header>
        <div class="body">
          <nav class="sidenav" id="sidenav" aria-label="Sections">
            {ctx.env && <ul>
              {SECTIONS.filter((s) => !s.route || paths.has(s.route)).map((s) => (
                <li key={s.path}><a href={`/envs/${ctx.env!.id}/${s.path}`} aria-current={section === s.path ? 'page' : undefined}>{s.label}</a></li>
              ))}
            </ul>}
            {orgId && <OrgNav orgId={orgId} paths={paths} current={orgSection} />}
          </nav>
          <main class="content" id="main" tabIndex={-1}>
            <Routes path={path} ctx={ctx} />
          </main>
          <RouteFocus path={path} />
        </div>
      </div>
      <CommentDialog />
    </SessionCtx.Provider>
  );
}

// OrgNav lists the organization's pages; a page whose section names an
// action appears only for callers the API allows that action.
function OrgNav({ orgId, paths, current }: { orgId: string; paths: Set<string>; current: string }) {
  const can = useCan({ org: orgId });
  return <>
    <div class="nav-group">Organization</div>
    <ul>
      {ORG_SECTIONS.filter((s) => !s.action || can(s.action)).filter((s) => !s.route || paths.has(s.route)).map((s) => (
        <li key={s.path}><a href={`/orgs/${orgId}/${s.path}`} aria-current={current === s.path ? 'page' : undefined}>{s.label}</a></li>
      ))}
    </ul>
  </>;
}

async function openOrg(orgId: string) {
  if (!orgId) { navigate('/orgs/none', true); return; }
  const ps = await api.projects(orgId);
  for (const p of ps.items) {
    const es = await api.envs(p.id);
    if (es.items.length) { navigate(`/envs/${es.items[0].id}/flags`); return; }
  }
  navigate(`/orgs/${orgId}`);
}

function Switcher({ ctx }: { ctx: Ctx }) {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const wrap = (f: () => Promise<void>) => async () => {
    setBusy(true); setErr('');
    try { await f(); } catch (e) { setErr(errText(e)); } finally { setBusy(false); }
  };
  const section = location.pathname.split('/')[3] || 'flags';
  const sectionFor = (s: string) => (SECTIONS.some((x) => x.path === s) ? s : 'flags');
  return (
    <div class="switcher" aria-busy={busy ? 'true' : undefined}>
      <Select label="Organization" value={ctx.org?.id || ''} disabled={busy}
        options={[...(ctx.org ? [] : [{ value: '', label: '—' }]), ...ctx.orgs.map((o) => ({ value: o.id, label: o.name }))]}
        onChange={(v) => wrap(() => openOrg(v))()} />
      <Select label="Project" value={ctx.project?.id || ''} disabled={busy || !ctx.projects.length}
        options={ctx.projects.length ? ctx.projects.map((p) => ({ value: p.id, label: p.name })) : [{ value: '', label: '—' }]}
        onChange={(v) => wrap(async () => {
          const es = await api.envs(v);
          if (es.items.length) navigate(`/envs/${es.items[0].id}/${sectionFor(section)}`);
          else navigate(`/orgs/${ctx.org?.id}`);
        })()} />
      <Select label="Environment" value={ctx.env?.id || ''} disabled={busy || !ctx.envs.length}
        options={ctx.envs.length ? ctx.envs.map((e) => ({ value: e.id, label: e.name })) : [{ value: '', label: '—' }]}
        onChange={(v) => navigate(`/envs/${v}/${sectionFor(section)}`)} />
      {busy && <span class="spinner" role="status" aria-label="Switching" />}
      {err && <span class="field-error" role="alert">{err}</span>}
    </div>
  );
}

function Routes({ path, ctx }: { path: string; ctx: Ctx }) {
  let m: Record<string, string> | null;
  if ((m = match('/orgs/:org/settings', path))) return <OrgSettings key={m.org} orgId={m.org} />;
  if ((m = match('/orgs/:org/groups', path))) return <Groups key={m.org} orgId={m.org} />;
  if ((m = match('/orgs/:org/policies', path))) return <Policies key={m.org} orgId={m.org} />;
  if ((m = match('/orgs/:org/projects/:project', path))) return <ProjectSettings key={m.project} orgId={m.org} projectId={m.project} />;
  if ((m = match('/envs/:env/settings', path)) && ctx.env?.id === m.env) return <EnvSettingsPage key={ctx.env.id} env={ctx.env} />;
  if ((m = match('/orgs/:org/members', path))) return <Members orgId={m.org} />;
  if ((m = match('/orgs/:org/tokens', path))) return <Tokens orgId={m.org} />;
  if ((m = match('/orgs/:org/webhooks', path))) return <Webhooks key={m.org} orgId={m.org} />;
  if ((m = match('/orgs/:org/sso', path))) return <SingleSignOn key={m.org} orgId={m.org} />;
  if ((m = match('/orgs/:org/audit', path))) return <AuditLog key={m.org} orgId={m.org} />;
  if ((m = match('/orgs/:org', path))) return <OrgHome orgId={m.org} />;
  if (!path.startsWith('/envs/')) return <Spinner />;
  if (!ctx.env || !path.startsWith('/envs/' + ctx.env.id)) return <Spinner />;
  const env = ctx.env;
  if ((m = match('/envs/:env', path)) || (m = match('/envs/:env/flags', path))) return <FlagList key={env.id} env={env} />;
  if ((m = match('/envs/:env/flags/:key', path))) return <FlagDetail key={env.id + m.key} env={env} flagKey={m.key} />;
  if ((m = match('/envs/:env/segments', path))) return <Segments key={env.id} env={env} />;
  if ((m = match('/envs/:env/segments/:id', path))) return <SegmentDetail key={env.id + m.id} env={env} id={m.id} />;
  if ((m = match('/envs/:env/end-users', path))) return <EndUsers key={env.id + location.search} env={env} />;
  if ((m = match('/envs/:env/end-users/:key', path))) return <EndUserDetail key={env.id + m.key} env={env} keyId={m.key} />;
  if ((m = match('/envs/:env/playground', path))) return <Playground key={env.id} env={env} />;
  if ((m = match('/envs/:env/insights', path))) return <Insights key={env.id} env={env} />;
  if ((m = match('/envs/:env/experiments', path))) return <Experiments key={env.id} env={env} />;
  if ((m = match('/envs/:env/sdk', path))) return <SdkKeys key={env.id} env={env} />;
  if ((m = match('/envs/:env/audit', path))) return <AuditLog key={env.id} env={env} orgId={env.orgId} />;
  if ((m = match('/envs/:env/schedules', path))) return <Schedules key={env.id} env={env} />;
  if ((m = match('/envs/:env/change-requests', path))) return <ChangeRequests key={env.id} env={env} />;
  if ((m = match('/envs/:env/change-requests/:id', path))) return <ChangeRequestDetail key={env.id + m.id} env={env} id={m.id} />;
  if ((m = match('/envs/:env/compare', path))) return <EnvCompare key={env.id} env={env} />;
  if ((m = match('/envs/:env/connected-sdks', path))) return <ConnectedSDKs key={env.id} env={env} />;
  const sec = SECTIONS.find((s) => s.route && path === `/envs/${env.id}/${s.path}`);
  if (sec) return <Placeholder title={sec.label} text={`The ${sec.label.toLowerCase()} page comes with its own issue; the API routes are there.`} />;
  return <Placeholder title="Not found" text={`No page at ${path}.`} />;
}
