// ui.tsx: shared building blocks: labelled fields that show the API error
// for their field, buttons that show progress, copy buttons, switches.
import { ComponentChildren, createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, Env, Me, Org, Project } from './api';

export interface Session {
  me: Me;
  orgs: Org[];
  org: Org | null;
  project: Project | null;
  projects: Project[];
  envs: Env[];
  env: Env | null;
  role: string;
  canEdit: boolean; // editor or above
  isAdmin: boolean; // admin or above
  reloadEnv: () => void;
  logout: () => void;
}

export const SessionCtx = createContext<Session>(null as unknown as Session);
export const useSession = () => useContext(SessionCtx);

export const rank = (role: string) => ({ owner: 4, admin: 3, editor: 2, viewer: 1 } as Record<string, number>)[role] || 0;

// Actions each role allows everywhere (docs/access.md), for a control plane
// without the permissions route.
const ROLE_ACTIONS: Record<string, string[]> = {
  viewer: ['read'],
  editor: ['read', 'flag:write', 'flag:toggle', 'segment:write', 'experiment:write', 'coderef:write', 'secret:read'],
};

// usePermissions asks the API what the caller may do in env (GET
// envs/{envId}/permissions: roles, groups and policies decided) and returns
// can(action). Until the answer arrives nothing is allowed, so no button the
// caller may not use flashes up; an API without the route falls back to the
// organization role.
export function usePermissions(env: Env | null): (action: string) => boolean {
  const s = useSession();
  const [acts, setActs] = useState<Set<string> | null | 'role'>(null);
  useEffect(() => {
    setActs(null);
    if (!env) return;
    api.envPermissions(env.id).then((p) => setActs(new Set(p.actions))).catch(() => setActs('role'));
  }, [env?.id]);
  return (action: string) => {
    if (acts === null) return false;
    if (acts === 'role') return rank(s.role) >= 3 || (ROLE_ACTIONS[s.role] || []).includes(action);
    return acts.has(action);
  };
}

let seq = 0;
export const useId = (prefix: string) => useRef(`${prefix}-${++seq}`).current;

// errorFor returns the message of err when it concerns field (exactly, or a
// sub-path of it when prefix is set).
export function errorFor(err: unknown, field: string, prefix = false): string {
  if (!(err instanceof ApiError) || !err.field) return '';
  if (err.field === field) return err.message;
  if (prefix && (err.field.startsWith(field + '.') || err.field.startsWith(field + '['))) return `${err.field}: ${err.message}`;
  return '';
}

// FieldError renders a message tied to an input by id (aria-describedby).
export function FieldError({ id, msg }: { id: string; msg: string }) {
  if (!msg) return null;
  return <div class="field-error" id={id} role="alert">{msg}</div>;
}

// FormError shows an error that no field on the form claims.
export function FormError({ err, fields }: { err: unknown; fields?: string[] }) {
  if (!err) return null;
  if (err instanceof ApiError && err.field && fields && fields.some((f) => err.field === f || err.field.startsWith(f + '.') || err.field.startsWith(f + '['))) return null;
  const msg = err instanceof ApiError ? (err.field ? `${err.field}: ${err.message}` : err.message) : String((err as Error).message || err);
  return <div class="form-error" role="alert">{msg}</div>;
}

interface FieldProps {
  label: string;
  value: string;
  onInput?: (v: string) => void;
  err?: unknown;
  field?: string;
  type?: 'text' | 'email' | 'password' | 'search' | 'number' | 'url' | 'datetime-local';
  placeholder?: string;
  readOnly?: boolean;
  required?: boolean;
  list?: string;
  autoComplete?: string;
  hint?: string;
  textarea?: boolean;
  rows?: number;
  class?: string;
}

export function Field(p: FieldProps) {
  const id = useId('f');
  const msg = p.field ? errorFor(p.err, p.field) : '';
  const errId = id + '-err';
  const common = {
    id, value: p.value, readOnly: p.readOnly, required: p.required, placeholder: p.placeholder,
    'aria-invalid': msg ? ('true' as const) : undefined, 'aria-describedby': msg ? errId : undefined,
    onInput: (e: Event) => p.onInput && p.onInput((e.target as HTMLInputElement).value),
  };
  // preact's input typings tie `list` to some `type`s; the attributes are plain HTML
  const inputProps = { ...common, type: p.type || 'text', list: p.list, autoComplete: p.autoComplete };
  return (
    <div class={'field ' + (p.class || '')}>
      <label for={id}>{p.label}</label>
      {p.textarea
        ? <textarea {...common} rows={p.rows || 3} />
        : <input {...(inputProps as object)} />}
      {p.hint && <div class="hint">{p.hint}</div>}
      <FieldError id={errId} msg={msg} />
    </div>
  );
}

interface SelectProps {
  label: string;
  value: string;
  onChange?: (v: string) => void;
  options: { value: string; label: string }[];
  err?: unknown;
  field?: string;
  disabled?: boolean;
  class?: string;
  hideLabel?: boolean;
}

export function Select(p: SelectProps) {
  const id = useId('s');
  const msg = p.field ? errorFor(p.err, p.field) : '';
  return (
    <div class={'field ' + (p.class || '')}>
      <label for={id} class={p.hideLabel ? 'sr-only' : ''}>{p.label}</label>
      <select id={id} value={p.value} disabled={p.disabled} aria-invalid={msg ? 'true' : undefined}
        aria-describedby={msg ? id + '-err' : undefined}
        onChange={(e) => p.onChange && p.onChange((e.target as HTMLSelectElement).value)}>
        {p.options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
      <FieldError id={id + '-err'} msg={msg} />
    </div>
  );
}

// Busy is a button that shows progress while its async action runs.
export function Busy(p: {
  onClick: () => Promise<unknown> | void; children: ComponentChildren; class?: string; label?: string;
  disabled?: boolean; type?: 'button' | 'submit'; busyText?: string;
}) {
  const [busy, setBusy] = useState(false);
  const mounted = useRef(true);
  useEffect(() => () => { mounted.current = false; }, []);
  return (
    <button type={p.type || 'button'} class={p.class || ''} aria-label={p.label} disabled={busy || p.disabled}
      aria-busy={busy ? 'true' : undefined}
      onClick={async (e) => {
        e.preventDefault();
        setBusy(true);
        try { await p.onClick(); } finally { if (mounted.current) setBusy(false); }
      }}>
      {busy && <span class="spinner" aria-hidden="true" />}
      {busy && p.busyText ? p.busyText : p.children}
    </button>
  );
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return <div class="loading" role="status"><span class="spinner" aria-hidden="true" /> {label}</div>;
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('Copied');
    } catch {
      // no clipboard permission (e.g. plain http): select a hidden textarea
      const ta = document.createElement('textarea');
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      const ok = document.execCommand('copy');
      ta.remove();
      setDone(ok ? 'Copied' : 'Copy failed: select and copy by hand');
    }
    setTimeout(() => setDone(''), 2000);
  };
  return (
    <span class="copy">
      <button type="button" class="small" aria-label={label} onClick={copy}>Copy</button>
      <span role="status" class="copy-status">{done}</span>
    </span>
  );
}

// Switch is a real button with role="switch" (Playwright: getByRole('switch', {name})).
export function Switch({ checked, label, onChange, disabled }: {
  checked: boolean; label: string; onChange: (v: boolean) => Promise<unknown> | void; disabled?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  return (
    <button type="button" role="switch" aria-checked={checked ? 'true' : 'false'} aria-label={label}
      class={'switch' + (checked ? ' on' : '')} disabled={disabled || busy} aria-busy={busy ? 'true' : undefined}
      onClick={async () => { setBusy(true); try { await onChange(!checked); } finally { setBusy(false); } }}>
      <span class="knob" aria-hidden="true" />
      <span class="switch-text">{busy ? '…' : checked ? 'On' : 'Off'}</span>
    </button>
  );
}

export function Page({ title, actions, children }: { title: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page">
      <header class="page-head">
        <h1 tabIndex={-1}>{title}</h1>
        <div class="actions">{actions}</div>
      </header>
      {children}
    </section>
  );
}

export function fmtTime(ms?: number) {
  if (!ms) return '—';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function errText(e: unknown): string {
  if (!e) return '';
  return e instanceof ApiError ? e.message : String((e as Error).message || e);
}

// lastFocus is the element that had focus last: a busy button is disabled
// (and so loses focus) before the dialog it causes opens.
let lastFocus: HTMLElement | null = null;
document.addEventListener('focusin', (e) => { if (e.target instanceof HTMLElement && !e.target.closest('[role=dialog]')) lastFocus = e.target; });

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
const focusables = (el: HTMLElement) =>
  Array.from(el.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((x) => x.getClientRects().length > 0);

// Dialog is a modal dialog (role="dialog", aria-modal, named by its title):
// focus moves into it (its first field, else its first control), Tab and
// Shift+Tab stay inside it, Escape calls onClose, and when it closes focus
// goes back to where it was. Use it for every dialog, so they all behave so.
export function Dialog({ title, onClose, children, class: cls }: {
  title: string; onClose: () => void; children: ComponentChildren; class?: string;
}) {
  const id = useId('dlg');
  const box = useRef<HTMLDivElement>(null);
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const act = document.activeElement as HTMLElement | null;
    const before = act && act !== document.body ? act : lastFocus;
    const el = box.current;
    if (el) (el.querySelector<HTMLElement>('[autofocus], input, textarea, select') || focusables(el)[0] || el).focus();
    // give focus back; the opener may still be disabled (a busy button
    // re-enables when its action ends), so retry a little while focus is
    // nowhere else
    return () => {
      if (!before || before === document.body) return;
      let n = 0;
      const restore = () => {
        if (!document.contains(before)) return;
        before.focus();
        const at = document.activeElement;
        if (at !== before && (!at || at === document.body) && ++n < 20) setTimeout(restore, 50);
      };
      restore();
    };
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') { e.stopPropagation(); close.current(); return; }
    if (e.key !== 'Tab' || !box.current) return;
    const f = focusables(box.current);
    if (!f.length) { e.preventDefault(); return; }
    const first = f[0], last = f[f.length - 1];
    if (e.shiftKey && (document.activeElement === first || document.activeElement === box.current)) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  };
  return (
    <div class="modal-backdrop">
      <div ref={box} class={'modal card ' + (cls || '')} role="dialog" aria-modal="true" aria-labelledby={id} tabIndex={-1} onKeyDown={onKeyDown}>
        <h2 id={id} class="dialog-title">{title}</h2>
        {children}
      </div>
    </div>
  );
}

// useScrollableTables: on a narrow screen a table wider than the screen
// scrolls inside its own box (style.css); keyboard users must reach such a
// box to scroll it (WCAG 2.1.1), so while a table scrolls it is a Tab stop
// (tabindex=0; arrow keys scroll it). The shell calls this once.
export function useScrollableTables() {
  useEffect(() => {
    const mark = () => {
      for (const t of document.querySelectorAll<HTMLElement>('table.list')) {
        const scrolls = t.scrollWidth > t.clientWidth + 1;
        if (scrolls && !t.hasAttribute('tabindex')) { t.setAttribute('tabindex', '0'); t.dataset.scrollFocus = '1'; }
        else if (!scrolls && t.dataset.scrollFocus) { t.removeAttribute('tabindex'); delete t.dataset.scrollFocus; }
      }
    };
    let pending = 0;
    const schedule = () => { if (!pending) pending = requestAnimationFrame(() => { pending = 0; mark(); }); };
    const mo = new MutationObserver(schedule);
    mo.observe(document.body, { childList: true, subtree: true });
    addEventListener('resize', schedule);
    schedule();
    return () => { mo.disconnect(); removeEventListener('resize', schedule); cancelAnimationFrame(pending); };
  }, []);
}
