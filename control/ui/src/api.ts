// api.ts: the control plane's REST API (/api/v1) and analytics' query API
// (/api/analytics/v1), typed. Every error becomes an ApiError carrying the
// API's {code, field, message} so forms can show it next to the field.

// The control API's types come from its OpenAPI document: api.gen.ts is
// generated (build.sh --gen-api; TestAPITypesCurrent fails when it is not
// current). Response types are the document's components; Body<path, method>
// is what an operation accepts. Only drafts the UI builds before the server
// gives them ids (conditions, rules) loosen the generated types.
import type { components, paths } from './api.gen';

type S = components['schemas'];
type Opt<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;
// Body is the JSON request body of an operation (its required fields are
// the ones the API refuses a write without).
export type Body<P extends keyof paths, M extends keyof paths[P]> =
  paths[P][M] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

export type Variation = S['Variation'];
export type TargetUser = S['TargetUser'];
export type Condition = Opt<S['Condition'], 'id'>;
export type RolloutVariation = S['RolloutVariation'];
export type Rule = Opt<Omit<S['Rule'], 'conditions'> & { conditions: Condition[] }, 'id'>;
export type Fallthrough = S['Fallthrough'];
export type Flag = Omit<S['Flag'], 'rules'> & { rules: Rule[] };
export type SegmentRule = Opt<Omit<S['SegmentRule'], 'conditions'> & { conditions: Condition[] }, 'id'>;
export type Segment = Omit<S['Segment'], 'rules'> & { rules: SegmentRule[] };
export type EndUser = S['EndUser'];
export type OrgRole = S['OrgRole'];
export type UserView = S['UserView'];
export type Me = S['MeResponse'];
export type Org = S['Org'];
export type Project = S['Project'];
// Permissions: what the caller may do in an environment (docs/access.md).
export type Permissions = S['Permissions'];
export type EnvSecret = S['EnvSecret'];
export type Env = S['EnvView'];
export type Member = S['MemberView'];
export type Invitation = S['Invitation'];
export type AccessToken = S['AccessToken'];
export type Metric = S['Metric'];
export type Experiment = S['Experiment'];
export interface List<T> { items: T[]; total: number }

// single sign-on (docs/access.md, "Single sign-on")
export type SSOButton = S['SSOButton'];
export type SSOIssuer = S['SSOIssuerView'];
// the form's state: every field the API accepts, filled in
export type SSOIssuerRequest = Opt<Required<Body<'/api/v1/orgs/{orgId}/sso/issuers', 'post'>>, 'version'>;
export type SSOSettings = S['SSOSettings'];
export type Group = S['Group'];

// workflow: audit log, webhooks, triggers, scheduled changes, compare/copy
export type AuditEntry = S['AuditEntry'];
export interface AuditQuery { type?: string; resource?: string; actor?: string; from?: number; to?: number; offset?: number; limit?: number }
export type EnvSettings = S['EnvSettings'];
// Change requests of protected environments (docs/access.md).
export type Review = S['Review'];
export type ChangeRequest = S['ChangeRequest'];
export type ChangeAction = 'approve' | 'reject' | 'apply' | 'rebase' | 'close';
export type Webhook = S['WebhookView'];
export type WebhookRequest = Opt<Required<Body<'/api/v1/orgs/{orgId}/webhooks', 'post'>>, 'enabled' | 'secret' | 'version'>;
export type DeliveryAttempt = S['DeliveryAttempt'];
export type Delivery = S['Delivery'];
export type Trigger = S['Trigger'];
export type Schedule = S['Schedule'];
export type PartDiff = S['PartDiff'];
export type FlagCompare = S['FlagCompare'];
export type StaleFlag = S['Report'];
export type StaleReport = S['StaleReport'];
export type CodeRef = S['CodeRefView'];

// analytics' query API (/api/analytics/v1) is another component with no
// OpenAPI document yet: its types are written here by hand.
export interface SeriesPoint { time: number; variationId: string; count: number }
export interface VariationOutcome {
  variationId: string; isBaseline: boolean; exposed: number; converted: number; samples: number;
  value: number | null; stdDev: number | null; diff?: number | null; diffCi: [number | null, number | null];
  uplift?: number | null; upliftCi: [number | null, number | null]; pValue?: number | null;
  significant: boolean; probabilityToBeatBaseline?: number | null;
}
export interface ExperimentResult {
  flagKey: string; baselineVariationId: string; from: number; to: number; confidence: number;
  exposures: { variationId: string; users: number; firstExposure: number }[];
  srm: { expected: Record<string, number>; chiSquare: number | null; pValue: number | null; mismatch: boolean };
  metrics: { eventName: string; type: string; lowerIsBetter?: boolean; guardrail?: boolean; winner?: string; variations: VariationOutcome[] }[];
  harmedGuardrails?: string[] | null; sequential?: boolean; correction?: string;
}
// experiment workflow (pages/experiments.tsx, pages/rollouts.tsx, pages/insightusers.tsx)
export interface ExperimentResults { experiment: Experiment; expectedSplit: Record<string, number> | null; splitNote?: string; results: ExperimentResult }
export type RolloutStage = S['RolloutStage'];
export type GuardedRollout = S['GuardedRollout'];
export type RolloutRequest = Body<'/api/v1/envs/{envId}/flags/{key}/guarded-rollouts', 'post'>;
export interface FlagUser { userKey: string; userName: string; variationId: string; evaluations: number; lastSeen: number }
export const exptApi = {
  results: (env: string, id: string) => request<ExperimentResults>('GET', `/api/v1/envs/${encodeURIComponent(env)}/experiments/${encodeURIComponent(id)}/results`),
  create: (env: string, x: { flagId: string; metricIds: string[]; baselineVariationId: string; sequential: boolean; correction: string; cupedDays?: number }) =>
    request<Experiment>('POST', `/api/v1/envs/${encodeURIComponent(env)}/experiments`, x),
  ship: (env: string, id: string, variationId: string, flagVersion?: number) =>
    request<Flag>('POST', `/api/v1/envs/${encodeURIComponent(env)}/experiments/${encodeURIComponent(id)}/ship`, { variationId, flagVersion }),
  rollouts: (env: string, flag = '') =>
    request<List<GuardedRollout>>('GET', `/api/v1/envs/${encodeURIComponent(env)}/guarded-rollouts${flag ? '?flag=' + encodeURIComponent(flag) : ''}`),
  startRollout: (env: string, key: string, r: RolloutRequest) =>
    request<GuardedRollout>('POST', `/api/v1/envs/${encodeURIComponent(env)}/flags/${encodeURIComponent(key)}/guarded-rollouts`, r),
  abortRollout: (env: string, id: string) =>
    request<GuardedRollout>('POST', `/api/v1/envs/${encodeURIComponent(env)}/guarded-rollouts/${encodeURIComponent(id)}/abort`, {}),
  flagUsers: (env: string, flag: string, from: number, to: number, offset: number, limit: number, variation = '') =>
    request<{ users: FlagUser[] | null; limit: number; offset: number }>('GET',
      `/api/analytics/v1/envs/${encodeURIComponent(env)}/flags/${encodeURIComponent(flag)}/users?from=${from}&to=${to}&offset=${offset}&limit=${limit}${variation ? '&variation=' + encodeURIComponent(variation) : ''}`),
};

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public field = '') {
    super(message);
  }
}

const TOKEN_KEY = 'sy.token';

// analyticsError turns "route not found" under /api/analytics/ into a hint:
// a control plane deployed without analytics has no such routes.
export function analyticsError(e: unknown): unknown {
  if (e instanceof ApiError && e.status === 404) {
    return new ApiError(404, 'not_found', 'Analytics is not reachable under /api/analytics/ on this server (the all-in-one binary mounts it; a separate deployment must route it there).');
  }
  return e;
}

export function getToken(): string { return localStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(t: string) {
  if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void) { onUnauthorized = f; }

// Change comments: an environment can require a comment on every write.
// The application registers a provider; request asks it before each write
// under /api/v1/envs/{envId}/ and sends the answer as the "comment" field of
// the JSON body (or the comment query parameter for a body-less write).
// null from the provider cancels the write.
export type CommentProvider = (envId: string, method: string, path: string) => Promise<string | null | undefined>;
let commentProvider: CommentProvider | null = null;
export function setCommentProvider(f: CommentProvider | null) { commentProvider = f; }
const settingsCache = new Map<string, { at: number; p: Promise<boolean> }>();
const SETTINGS_TTL = 60_000;
// requiresComment says whether an environment requires a change comment
// (cached for a minute; a route missing on an older API means no).
export function requiresComment(envId: string): Promise<boolean> {
  const c = settingsCache.get(envId);
  if (c && Date.now() - c.at < SETTINGS_TTL) return c.p;
  const p = rawRequest<EnvSettings>('GET', `/api/v1/envs/${encodeURIComponent(envId)}/workflow-settings`)
    .then((s) => !!s.requireComment).catch(() => false);
  settingsCache.set(envId, { at: Date.now(), p });
  return p;
}
export function forgetSettings(envId: string) { settingsCache.delete(envId); }
export class Cancelled extends ApiError {
  constructor() { super(0, 'cancelled', 'Cancelled: no change comment was given.', 'comment'); }
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const m = /^\/api\/v1\/envs\/([^/?]+)\//.exec(path);
  if (method === 'GET' || !m || !commentProvider || /\/evaluate$/.test(path)) return rawRequest<T>(method, path, body);
  const envId = decodeURIComponent(m[1]);
  const withComment = async (ask: boolean): Promise<T> => {
    if (!ask) return rawRequest<T>(method, path, body);
    const c = await commentProvider!(envId, method, path);
    if (c == null) throw new Cancelled();
    if (body && typeof body === 'object' && !Array.isArray(body)) return rawRequest<T>(method, path, { ...(body as object), comment: c });
    return rawRequest<T>(method, path + (path.includes('?') ? '&' : '?') + 'comment=' + encodeURIComponent(c), body);
  };
  const ask = await requiresComment(envId);
  try {
    return await withComment(ask);
  } catch (e) {
    // the setting changed since it was read: ask once and retry
    if (!ask && e instanceof ApiError && e.status === 400 && e.field === 'comment') {
      settingsCache.set(envId, { at: Date.now(), p: Promise.resolve(true) });
      return withComment(true);
    }
    throw e;
  }
}

// requestIdOf: the X-Request-Id control answered a write with (the id of its
// delivery receipt, docs/delivery.md), for the object that write returned.
const writeIds = new WeakMap<object, string>();
export const requestIdOf = (x: unknown): string => (x && typeof x === 'object' ? writeIds.get(x) || '' : '');

async function rawRequest<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const tok = getToken();
  if (tok) headers.Authorization = 'Bearer ' + tok;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', 'cannot reach the server: ' + (e as Error).message);
  }
  if (res.status === 204) return undefined as T;
  let data: any = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = data && data.error;
    let err: ApiError;
    if (e && typeof e === 'object') err = new ApiError(res.status, e.code || 'error', e.message || res.statusText, e.field || '');
    else if (typeof e === 'string') err = new ApiError(res.status, 'error', e);
    else err = new ApiError(res.status, 'error', `${res.status} ${res.statusText}`);
    if (res.status === 401 && !path.endsWith('/auth/login')) onUnauthorized();
    throw err;
  }
  if (method !== 'GET' && data && typeof data === 'object') writeIds.set(data, res.headers.get('X-Request-Id') || '');
  return data as T;
}

// The API may send null for empty lists (e.g. items the bootstrap wrote);
// the pages rely on arrays.
function normSegment(x: Segment): Segment {
  x.included ||= []; x.excluded ||= []; x.rules ||= []; x.tags ||= [];
  x.rules.forEach((r) => { r.conditions ||= []; });
  return x;
}
function normFlag(f: Flag): Flag {
  f.variations ||= []; f.targetUsers ||= []; f.rules ||= []; f.tags ||= [];
  f.fallthrough ||= { dispatchKey: '', includedInExpt: false, variations: [] };
  f.fallthrough.variations ||= [];
  f.targetUsers.forEach((t) => { t.keyIds ||= []; });
  f.rules.forEach((r) => { r.conditions ||= []; r.variations ||= []; r.dispatchKey ||= ''; });
  return f;
}
const mapList = <T,>(f: (x: T) => T) => (l: List<T>) => ({ ...l, items: (l.items || []).map(f) });

// apiPaths: the routes the API's OpenAPI document lists (read once); pages
// show sections only when their routes are there.
let openapiPaths: Promise<Set<string>> | null = null;
export function apiPaths(): Promise<Set<string>> {
  if (!openapiPaths) {
    openapiPaths = request<{ paths?: Record<string, unknown> }>('GET', '/api/openapi.json')
      .then((d) => new Set(Object.keys(d.paths || {})))
      .catch(() => new Set<string>());
  }
  return openapiPaths;
}

const v1 = '/api/v1';

function auditParams(q: AuditQuery): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '' && v !== 0) p.set(k, String(v));
  return p;
}
const enc = encodeURIComponent;

export const api = {
  login: (email: string, password: string) =>
    request<{ token: string; user: UserView; orgs: OrgRole[] }>('POST', v1 + '/auth/login', { email, password } satisfies Body<'/api/v1/auth/login', 'post'>),
  logout: () => request<void>('POST', v1 + '/auth/logout'),
  ssoButtons: (org: string) => request<List<SSOButton>>('GET', `${v1}/auth/sso/issuers?org=${enc(org)}`),
  ssoStart: (issuerId: string, link = false) => request<{ url: string }>('POST', v1 + '/auth/sso/start', { issuerId, link } satisfies Body<'/api/v1/auth/sso/start', 'post'>),
  ssoSession: () => request<{ token: string; user: UserView; orgs: OrgRole[] }>('POST', v1 + '/auth/sso/session'),
  ssoIssuers: (org: string) => request<List<SSOIssuer>>('GET', `${v1}/orgs/${enc(org)}/sso/issuers`),
  createSSOIssuer: (org: string, x: SSOIssuerRequest) => request<SSOIssuer>('POST', `${v1}/orgs/${enc(org)}/sso/issuers`, x satisfies Body<'/api/v1/orgs/{orgId}/sso/issuers', 'post'>),
  deleteSSOIssuer: (org: string, id: string) => request<void>('DELETE', `${v1}/orgs/${enc(org)}/sso/issuers/${enc(id)}`),
  ssoSettings: (org: string) => request<SSOSettings>('GET', `${v1}/orgs/${enc(org)}/sso/settings`),
  putSSOSettings: (org: string, forbidPassword: boolean, version: number) =>
    request<SSOSettings>('PUT', `${v1}/orgs/${enc(org)}/sso/settings`, { forbidPassword, version } satisfies Body<'/api/v1/orgs/{orgId}/sso/settings', 'put'>),
  groups: (org: string) => request<List<Group>>('GET', `${v1}/orgs/${enc(org)}/groups`),
  me: () => request<Me>('GET', v1 + '/auth/me'),
  orgs: () => request<List<Org>>('GET', v1 + '/orgs'),
  projects: (org: string) => request<List<Project>>('GET', `${v1}/orgs/${enc(org)}/projects`),
  createProject: (org: string, name: string, key: string) =>
    request<Project>('POST', `${v1}/orgs/${enc(org)}/projects`, { name, key } satisfies Body<'/api/v1/orgs/{orgId}/projects', 'post'>),
  envs: (project: string) => request<List<Env>>('GET', `${v1}/projects/${enc(project)}/envs`),
  createEnv: (project: string, name: string, key: string, description: string) =>
    request<Env>('POST', `${v1}/projects/${enc(project)}/envs`, { name, key, description } satisfies Body<'/api/v1/projects/{projectId}/envs', 'post'>),
  env: (env: string) => request<Env>('GET', `${v1}/envs/${enc(env)}`),
  rotateSecret: (env: string, type: string) => request<Env>('POST', `${v1}/envs/${enc(env)}/secrets/${enc(type)}/rotate`),
  envPermissions: (env: string) => request<Permissions>('GET', `${v1}/envs/${enc(env)}/permissions`),
  flagVersions: (env: string, key: string) => request<List<Flag>>('GET', `${v1}/envs/${enc(env)}/flags/${enc(key)}/versions`).then((l) => ({ ...l, items: l.items.map(normFlag) })),
  restoreVersion: (env: string, key: string, version: number) =>
    request<Flag>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/restore-version`, { version } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/restore-version', 'post'>).then(normFlag),

  members: (org: string) => request<List<Member>>('GET', `${v1}/orgs/${enc(org)}/members`),
  setMemberRole: (org: string, email: string, role: string) =>
    request<Member>('POST', `${v1}/orgs/${enc(org)}/members`, { email, role } satisfies Body<'/api/v1/orgs/{orgId}/members', 'post'>),
  invitations: (org: string) => request<List<Invitation>>('GET', `${v1}/orgs/${enc(org)}/invitations`),
  invite: (org: string, email: string, role: string) =>
    request<Invitation & { token: string; acceptPath: string }>('POST', `${v1}/orgs/${enc(org)}/invitations`, { email, role } satisfies Body<'/api/v1/orgs/{orgId}/invitations', 'post'>),
  revokeInvitation: (org: string, id: string) => request<void>('DELETE', `${v1}/orgs/${enc(org)}/invitations/${enc(id)}`),
  acceptInvitation: (a: { token: string; password?: string; name?: string }) =>
    request<{ orgId: string; email: string; joined: boolean; role?: string }>('POST', v1 + '/auth/invitations/accept', a satisfies Body<'/api/v1/auth/invitations/accept', 'post'>),
  removeMember: (org: string, user: string) => request<void>('DELETE', `${v1}/orgs/${enc(org)}/members/${enc(user)}`),
  tokens: (org: string) => request<List<AccessToken>>('GET', `${v1}/orgs/${enc(org)}/tokens`),
  createToken: (org: string, name: string, role: string) =>
    request<AccessToken & { token: string }>('POST', `${v1}/orgs/${enc(org)}/tokens`, { name, role } satisfies Body<'/api/v1/orgs/{orgId}/tokens', 'post'>),
  deleteToken: (org: string, id: string) => request<void>('DELETE', `${v1}/orgs/${enc(org)}/tokens/${enc(id)}`),

  flags: (env: string, q: { q?: string; tags?: string[]; status?: string; offset?: number; limit?: number }) => {
    const p = new URLSearchParams();
    if (q.q) p.set('q', q.q);
    for (const t of q.tags || []) p.append('tag', t);
    if (q.status) p.set('status', q.status);
    if (q.offset) p.set('offset', String(q.offset));
    p.set('limit', String(q.limit ?? 50));
    return request<List<Flag>>('GET', `${v1}/envs/${enc(env)}/flags?${p}`).then(mapList(normFlag));
  },
  flag: (env: string, key: string) => request<Flag>('GET', `${v1}/envs/${enc(env)}/flags/${enc(key)}`).then(normFlag),
  createFlag: (env: string, f: Partial<Flag>) => request<Flag>('POST', `${v1}/envs/${enc(env)}/flags`, f satisfies Body<'/api/v1/envs/{envId}/flags', 'post'>).then(normFlag),
  updateFlag: (env: string, f: Flag) => request<Flag>('PUT', `${v1}/envs/${enc(env)}/flags/${enc(f.key)}`, f satisfies Body<'/api/v1/envs/{envId}/flags/{key}', 'put'>).then(normFlag),
  toggleFlag: (env: string, key: string, isEnabled: boolean, version: number) =>
    request<Flag>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/toggle`, { isEnabled, version } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/toggle', 'post'>).then(normFlag),
  archiveFlag: (env: string, key: string, version: number) =>
    request<Flag>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/archive`, { version } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/archive', 'post'>).then(normFlag),
  restoreFlag: (env: string, key: string, version: number) =>
    request<Flag>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/restore`, { version } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/restore', 'post'>).then(normFlag),
  cloneFlag: (env: string, key: string, newKey: string, name: string) =>
    request<Flag>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/clone`, { key: newKey, name } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/clone', 'post'>).then(normFlag),
  copyFlag: (env: string, key: string, targetEnvId: string, overwrite: boolean, targetVersion: number) =>
    request<Flag>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/copy`, { targetEnvId, overwrite, targetVersion } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/copy', 'post'>).then(normFlag),
  deleteFlag: (env: string, key: string, version: number) =>
    request<void>('DELETE', `${v1}/envs/${enc(env)}/flags/${enc(key)}?version=${version}`),

  segments: (env: string, status = '') =>
    request<List<Segment>>('GET', `${v1}/envs/${enc(env)}/segments?limit=1000${status ? '&status=' + enc(status) : ''}`).then(mapList(normSegment)),
  segment: (env: string, id: string) => request<Segment>('GET', `${v1}/envs/${enc(env)}/segments/${enc(id)}`).then(normSegment),
  createSegment: (env: string, s: Partial<Segment>) => request<Segment>('POST', `${v1}/envs/${enc(env)}/segments`, s satisfies Body<'/api/v1/envs/{envId}/segments', 'post'>).then(normSegment),
  updateSegment: (env: string, s: Segment) => request<Segment>('PUT', `${v1}/envs/${enc(env)}/segments/${enc(s.id)}`, s satisfies Body<'/api/v1/envs/{envId}/segments/{id}', 'put'>).then(normSegment),
  archiveSegment: (env: string, id: string, version: number) =>
    request<Segment>('POST', `${v1}/envs/${enc(env)}/segments/${enc(id)}/archive`, { version } satisfies Body<'/api/v1/envs/{envId}/segments/{id}/archive', 'post'>).then(normSegment),
  restoreSegment: (env: string, id: string, version: number) =>
    request<Segment>('POST', `${v1}/envs/${enc(env)}/segments/${enc(id)}/restore`, { version } satisfies Body<'/api/v1/envs/{envId}/segments/{id}/restore', 'post'>).then(normSegment),
  deleteSegment: (env: string, id: string, version: number) =>
    request<void>('DELETE', `${v1}/envs/${enc(env)}/segments/${enc(id)}?version=${version}`),
  segmentFlags: (env: string, id: string) => request<List<Flag>>('GET', `${v1}/envs/${enc(env)}/segments/${enc(id)}/flags`).then(mapList(normFlag)),

  endUsers: (env: string, q: string, offset: number) =>
    request<List<EndUser>>('GET', `${v1}/envs/${enc(env)}/end-users?limit=50&offset=${offset}${q ? '&q=' + enc(q) : ''}`),
  endUserProps: (env: string) => request<List<string>>('GET', `${v1}/envs/${enc(env)}/end-user-properties`),

  metrics: (env: string) => request<List<Metric>>('GET', `${v1}/envs/${enc(env)}/metrics`),
  createMetric: (env: string, m: Body<'/api/v1/envs/{envId}/metrics', 'post'>) => request<Metric>('POST', `${v1}/envs/${enc(env)}/metrics`, m),
  experiments: (env: string) => request<List<Experiment>>('GET', `${v1}/envs/${enc(env)}/experiments`),
  createExperiment: (env: string, x: { flagId: string; metricIds: string[]; baselineVariationId: string }) =>
    request<Experiment>('POST', `${v1}/envs/${enc(env)}/experiments`, x satisfies Body<'/api/v1/envs/{envId}/experiments', 'post'>),
  experimentAction: (env: string, id: string, action: 'start' | 'stop', version: number) =>
    request<Experiment>('POST', `${v1}/envs/${enc(env)}/experiments/${enc(id)}/${action}`, { version }),
  deleteExperiment: (env: string, id: string) => request<void>('DELETE', `${v1}/envs/${enc(env)}/experiments/${enc(id)}`),

  // analytics (mounted by the all-in-one binary; a separate deployment may not have it)
  evaluations: (env: string, flag: string, from: number, to: number, bucket: string) =>
    request<{ bucketMs: number; points: SeriesPoint[] | null }>('GET',
      `/api/analytics/v1/envs/${enc(env)}/flags/${enc(flag)}/evaluations?from=${from}&to=${to}&bucket=${bucket}`),
  variationUsers: (env: string, flag: string, from: number, to: number) =>
    request<{ variations: { variationId: string; evaluations: number; users: number }[] | null }>('GET',
      `/api/analytics/v1/envs/${enc(env)}/flags/${enc(flag)}/variations?from=${from}&to=${to}`),
  experimentResult: (env: string, flag: string, body: object) =>
    request<ExperimentResult>('POST', `/api/analytics/v1/envs/${enc(env)}/flags/${enc(flag)}/experiment`, body),

  // audit log and workflow settings
  audit: (env: string, q: AuditQuery) => request<List<AuditEntry>>('GET', `${v1}/envs/${enc(env)}/audit?${auditParams(q)}`),
  orgAudit: (org: string, q: AuditQuery) => request<List<AuditEntry>>('GET', `${v1}/orgs/${enc(org)}/audit?${auditParams(q)}`),
  envSettings: (env: string) => request<EnvSettings>('GET', `${v1}/envs/${enc(env)}/workflow-settings`),
  putEnvSettings: (env: string, requireComment: boolean) =>
    request<EnvSettings>('PUT', `${v1}/envs/${enc(env)}/workflow-settings`, { requireComment } satisfies Body<'/api/v1/envs/{envId}/workflow-settings', 'put'>).finally(() => forgetSettings(env)),
  putProtection: (env: string, requireComment: boolean, prot: boolean, requiredApprovals: number) =>
    request<EnvSettings>('PUT', `${v1}/envs/${enc(env)}/workflow-settings`, { requireComment, protected: prot, requiredApprovals } satisfies Body<'/api/v1/envs/{envId}/workflow-settings', 'put'>).finally(() => forgetSettings(env)),

  // change requests (protected environments)
  changeRequests: (env: string, status = '') =>
    request<List<ChangeRequest>>('GET', `${v1}/envs/${enc(env)}/change-requests${status ? '?status=' + enc(status) : ''}`),
  changeRequest: (env: string, id: string) => request<ChangeRequest>('GET', `${v1}/envs/${enc(env)}/change-requests/${enc(id)}`),
  createChangeRequest: (env: string, body: { kind: 'flag' | 'segment'; key?: string; baseVersion?: number; proposed: unknown }) =>
    request<ChangeRequest>('POST', `${v1}/envs/${enc(env)}/change-requests`, body satisfies Body<'/api/v1/envs/{envId}/change-requests', 'post'>),
  changeRequestAction: (env: string, id: string, action: ChangeAction, version: number) =>
    request<ChangeRequest>('POST', `${v1}/envs/${enc(env)}/change-requests/${enc(id)}/${action}`, { version }),

  // webhooks (organization)
  webhooks: (org: string) => request<List<Webhook>>('GET', `${v1}/orgs/${enc(org)}/webhooks`),
  webhookKinds: (org: string) => request<List<string>>('GET', `${v1}/orgs/${enc(org)}/webhook-kinds`),
  createWebhook: (org: string, w: WebhookRequest) => request<Webhook & { secret: string }>('POST', `${v1}/orgs/${enc(org)}/webhooks`, w satisfies Body<'/api/v1/orgs/{orgId}/webhooks', 'post'>),
  updateWebhook: (org: string, id: string, w: WebhookRequest & { version: number }) => request<Webhook>('PUT', `${v1}/orgs/${enc(org)}/webhooks/${enc(id)}`, w satisfies Body<'/api/v1/orgs/{orgId}/webhooks/{id}', 'put'>),
  deleteWebhook: (org: string, id: string) => request<void>('DELETE', `${v1}/orgs/${enc(org)}/webhooks/${enc(id)}`),
  testWebhook: (org: string, id: string) => request<Delivery>('POST', `${v1}/orgs/${enc(org)}/webhooks/${enc(id)}/test`),
  deliveries: (org: string, id: string, offset = 0) =>
    request<List<Delivery>>('GET', `${v1}/orgs/${enc(org)}/webhooks/${enc(id)}/deliveries?limit=20&offset=${offset}`),

  // triggers (per flag)
  triggers: (env: string, key: string) => request<List<Trigger>>('GET', `${v1}/envs/${enc(env)}/flags/${enc(key)}/triggers`),
  createTrigger: (env: string, key: string, action: string, description: string) =>
    request<Trigger & { token: string; url: string }>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/triggers`, { action, description } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/triggers', 'post'>),
  updateTrigger: (env: string, id: string, enabled: boolean, version: number) =>
    request<Trigger>('PUT', `${v1}/envs/${enc(env)}/triggers/${enc(id)}`, { enabled, version } satisfies Body<'/api/v1/envs/{envId}/triggers/{id}', 'put'>),
  resetTrigger: (env: string, id: string) => request<Trigger & { token: string; url: string }>('POST', `${v1}/envs/${enc(env)}/triggers/${enc(id)}/reset`),
  deleteTrigger: (env: string, id: string) => request<void>('DELETE', `${v1}/envs/${enc(env)}/triggers/${enc(id)}`),

  // scheduled changes
  schedules: (env: string, status = '', flag = '') => {
    const p = new URLSearchParams();
    if (status) p.set('status', status);
    if (flag) p.set('flag', flag);
    return request<List<Schedule>>('GET', `${v1}/envs/${enc(env)}/schedules?${p}`);
  },
  createSchedule: (env: string, key: string, at: number, draft: Flag, onConflict: string) =>
    request<Schedule>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/schedules`, { at, draft, baseVersion: draft.version, onConflict } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/schedules', 'post'>),
  cancelSchedule: (env: string, id: string) => request<Schedule>('POST', `${v1}/envs/${enc(env)}/schedules/${enc(id)}/cancel`),

  // compare and copy across environments
  compareFlag: (env: string, key: string, target: string) =>
    request<FlagCompare>('GET', `${v1}/envs/${enc(env)}/flags/${enc(key)}/compare?targetEnvId=${enc(target)}`),
  compareEnvs: (env: string, target: string) =>
    request<{ items: FlagCompare[] | null; different: number }>('GET', `${v1}/envs/${enc(env)}/compare?targetEnvId=${enc(target)}`),
  copyFlags: (env: string, targetEnvId: string, keys: string[], overwrite: boolean) =>
    request<List<{ key: string; result: string }>>('POST', `${v1}/envs/${enc(env)}/copy-flags`, { targetEnvId, keys, overwrite } satisfies Body<'/api/v1/envs/{envId}/copy-flags', 'post'>),
  copyParts: (env: string, key: string, targetEnvId: string, parts: string[], targetVersion: number) =>
    request<Flag>('POST', `${v1}/envs/${enc(env)}/flags/${enc(key)}/copy-parts`, { targetEnvId, parts, targetVersion } satisfies Body<'/api/v1/envs/{envId}/flags/{key}/copy-parts', 'post'>).then(normFlag),

  // code references and stale flags (project)
  staleFlags: (project: string) => request<StaleReport>('GET', `${v1}/projects/${enc(project)}/stale-flags`),
  codeRefs: (project: string, flagKey: string) =>
    request<List<CodeRef>>('GET', `${v1}/projects/${enc(project)}/code-refs?flagKey=${enc(flagKey)}&limit=200`),
};
