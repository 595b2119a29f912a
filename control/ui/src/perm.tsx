// perm.tsx: what the caller may do, asked of the API (GET …/permissions of an
// environment, a project or the organization: roles, groups and policies
// decided in one place, docs/access.md), and controls that say why they are
// disabled.
import { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, Permissions } from './api';
import { gov } from './govapi';
import { rank, useSession } from './ui';

// Can answers "may the caller do action here?"; why(action) is the sentence a
// disabled control shows (empty when allowed). Until the API answered nothing
// is allowed, so no control flashes up enabled.
export interface Can {
  (action: string): boolean;
  why: (action: string) => string;
  ready: boolean;
  resource: string;
  actions: string[]; // what the API answered (empty until then, or without the route)
}

// Actions each role allows everywhere (docs/access.md), for a control plane
// without the permissions routes.
const ROLE_ACTIONS: Record<string, string[]> = {
  viewer: ['read'],
  editor: ['read', 'flag:write', 'flag:toggle', 'segment:write', 'experiment:write', 'coderef:write', 'secret:read'],
};

export type Scope = { env: string } | { project: string } | { org: string };

const fetchers = {
  env: (id: string) => api.envPermissions(id),
  project: (id: string) => gov.projectPermissions(id),
  org: (id: string) => gov.orgPermissions(id),
};

// useCan asks the API once per scope what the caller may do there.
export function useCan(scope: Scope | null): Can {
  const s = useSession();
  const key = scope ? Object.entries(scope)[0] as [keyof typeof fetchers, string] : null;
  const [p, setP] = useState<Permissions | 'role' | null>(null);
  const k = key ? key.join(':') : '';
  useEffect(() => {
    setP(null);
    if (!key || !key[1]) return;
    let stop = false;
    fetchers[key[0]](key[1]).then((x) => { if (!stop) setP(x); }).catch(() => { if (!stop) setP('role'); });
    return () => { stop = true; };
  }, [k]);
  const resource = p && p !== 'role' ? p.resource : key?.[0] === 'org' ? 'org' : 'this ' + (key?.[0] === 'env' ? 'environment' : 'project');
  const allowed = (action: string) => {
    if (p === null) return false;
    if (p === 'role') return rank(s.role) >= 3 || (ROLE_ACTIONS[s.role] || []).includes(action);
    return p.actions.includes(action);
  };
  const can = allowed as Can;
  can.why = (action: string) => {
    if (p === null) return 'Checking your permissions…';
    return allowed(action) ? '' : `You may not do this: it needs the ${action} action on ${resource} (your role: ${s.role || 'none'}).`;
  };
  can.ready = p !== null;
  can.resource = resource;
  can.actions = p && p !== 'role' ? p.actions : [];
  return can;
}

// Gated is a button that runs an async action and shows progress; when the
// caller may not use it (reason given) it is disabled and says why in its
// title and aria-description, and in a line under it when `explain` is set.
export function Gated(p: {
  onClick: () => Promise<unknown> | void; children: ComponentChildren; reason?: string; class?: string;
  label?: string; busyText?: string; disabled?: boolean; type?: 'button' | 'submit'; explain?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const mounted = useRef(true);
  useEffect(() => () => { mounted.current = false; }, []);
  const reason = p.reason || '';
  const btn = (
    <button type={p.type || 'button'} class={p.class || ''} aria-label={p.label} disabled={busy || p.disabled || !!reason}
      title={reason || undefined} aria-description={reason || undefined} aria-busy={busy ? 'true' : undefined}
      onClick={async (e) => {
        e.preventDefault();
        if (reason) return;
        setBusy(true);
        try { await p.onClick(); } finally { if (mounted.current) setBusy(false); }
      }}>
      {busy && <span class="spinner" aria-hidden="true" />}
      {busy && p.busyText ? p.busyText : p.children}
    </button>
  );
  if (!p.explain || !reason) return btn;
  return <span class="gated">{btn}<span class="hint why">{reason}</span></span>;
}

// YourAccess says in one line what the caller may do on the resource.
export function YourAccess({ can }: { can: Can }) {
  const s = useSession();
  if (!can.ready || can.actions.length === 0) return null;
  return <p class="muted your-access" data-testid="your-access">Your access to <code>{can.resource}</code>: role {s.role || 'none'};
    actions {can.actions.map((a, i) => <span key={a}>{i ? ', ' : ''}<code>{a}</code></span>)}.</p>;
}

// ReadOnlyNote tells a caller who may look but not change why the page has no
// edit controls.
export function ReadOnlyNote({ can, action, what }: { can: Can; action: string; what: string }) {
  if (!can.ready || can(action)) return null;
  return <p class="notice read-only" role="note">You can view {what} here; changing them needs the <code>{action}</code> action on {can.resource}.</p>;
}
