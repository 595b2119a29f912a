// pages/changes.tsx: change requests of a protected environment: the list,
// one request with its side-by-side diff (the item it is based on and the
// proposal), approve / reject / apply / rebase / close, and the button
// that turns a refused save into a proposal (ProposeButton).
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, ChangeAction, ChangeRequest, Env } from '../api';
import { navigate } from '../router';
import { ImpactPreview } from '../impact';
import { Busy, FormError, Page, Select, Spinner, fmtTime, usePermissions, useSession } from '../ui';
import { Gated, useCan } from '../perm';

const crPath = (env: Env, id: string) => `/envs/${env.id}/change-requests/${id}`;

export function ChangeRequests({ env }: { env: Env }) {
  const [status, setStatus] = useState('open');
  const [items, setItems] = useState<ChangeRequest[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () => api.changeRequests(env.id, status).then((r) => { setItems(r.items); setErr(null); }).catch(setErr);
  useEffect(() => { load(); }, [status]);
  return (
    <Page title="Change requests">
      <p class="muted">In a protected environment flags and segments change only through a change request that other members approve. Propose one by saving a flag or segment there.</p>
      <div class="filters">
        <Select label="State" value={status} onChange={setStatus} err={err} field="status" options={[
          { value: '', label: 'All' }, { value: 'open', label: 'Open' }, { value: 'approved', label: 'Approved' },
          { value: 'applied', label: 'Applied' }, { value: 'rejected', label: 'Rejected' }, { value: 'closed', label: 'Closed' }]} />
        <Busy onClick={load} busyText="Refreshing…">Refresh</Busy>
      </div>
      <FormError err={err} fields={['status']} />
      {!items ? <Spinner /> : items.length === 0 ? <p class="muted">No change requests.</p> : (
        <table class="list">
          <thead><tr><th>Item</th><th>Change</th><th>Author</th><th>State</th><th>Approvals</th><th>Opened</th></tr></thead>
          <tbody>{items.map((c) => (
            <tr key={c.id}>
              <td><a href={crPath(env, c.id)}>{c.kind} <span class="mono">{c.itemKey}</span></a></td>
              <td>{c.op}{c.comment ? <> · <span class="muted">{c.comment}</span></> : null}</td>
              <td>{c.authorName || c.author}</td>
              <td><span class={'badge ' + (c.status === 'applied' || c.status === 'approved' ? 'ok' : '')}>{c.status}</span></td>
              <td>{c.approvals} of {c.required}</td>
              <td>{fmtTime(c.createdAt)}</td>
            </tr>))}
          </tbody>
        </table>)}
    </Page>
  );
}

// lineDiff aligns two texts line by line (longest common subsequence) for a
// side-by-side view; rows hold the left and right line (null: absent).
export function lineDiff(a: string[], b: string[]): { l: string | null; r: string | null; same: boolean }[] {
  if (a.length * b.length > 4_000_000) {
    const n = Math.max(a.length, b.length), out = [];
    for (let i = 0; i < n; i++) out.push({ l: a[i] ?? null, r: b[i] ?? null, same: a[i] === b[i] });
    return out;
  }
  const m = a.length, n = b.length;
  const t: Uint32Array[] = [];
  for (let i = 0; i <= m; i++) t.push(new Uint32Array(n + 1));
  for (let i = m - 1; i >= 0; i--) for (let j = n - 1; j >= 0; j--) {
    t[i][j] = a[i] === b[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
  }
  const out: { l: string | null; r: string | null; same: boolean }[] = [];
  let i = 0, j = 0;
  while (i < m || j < n) {
    if (i < m && j < n && a[i] === b[j]) { out.push({ l: a[i], r: b[j], same: true }); i++; j++; }
    else if (j < n && (i >= m || t[i][j + 1] >= t[i + 1][j])) { out.push({ l: null, r: b[j], same: false }); j++; }
    else { out.push({ l: a[i], r: null, same: false }); i++; }
  }
  return out;
}

const IGNORED = new Set(['version', 'updatedAt', 'createdAt']);
const pretty = (v: unknown) => v == null ? [] : JSON.stringify(v, (k, x) => IGNORED.has(k) ? undefined : x, 2).split('\n');

export function ChangeRequestDetail({ env, id }: { env: Env; id: string }) {
  const can = usePermissions(env);
  const rev = useCan({ env: env.id });
  const me = useSession().me.user?.id || '';
  const [cr, setCr] = useState<ChangeRequest | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () => api.changeRequest(env.id, id).then((c) => { setCr(c); setErr(null); }).catch(setErr);
  useEffect(() => { load(); }, [id]);
  if (!cr) return <Page title="Change request">{err ? <FormError err={err} /> : <Spinner />}</Page>;
  const act = (a: ChangeAction) => async () => {
    setErr(null);
    try { setCr(await api.changeRequestAction(env.id, cr.id, a, cr.version)); } catch (e) { setErr(e); }
  };
  const live = cr.status === 'open' || cr.status === 'approved';
  // the author never reviews their own request (the API refuses it too)
  const review = me && cr.author === me ? 'You proposed this change: another member must approve or reject it.'
    : rev.why('change:approve');
  const write = cr.kind === 'segment' ? 'segment:write' : 'flag:write';
  const stale = err instanceof ApiError && err.status === 409 && /stale/.test(err.message);
  const rows = lineDiff(pretty(cr.base), pretty(cr.proposed));
  const itemHref = cr.kind === 'flag' ? `/envs/${env.id}/flags/${encodeURIComponent(cr.itemKey)}` : cr.itemId ? `/envs/${env.id}/segments/${cr.itemId}` : '';
  return (
    <Page title={<>Change request: {cr.kind} {itemHref ? <a href={itemHref} class="mono">{cr.itemKey}</a> : <span class="mono">{cr.itemKey}</span>}</>} actions={<>
      {live && <Gated onClick={act('approve')} reason={review} busyText="Approving…">Approve</Gated>}
      {live && <Gated class="danger" onClick={act('reject')} reason={review} busyText="Rejecting…">Reject</Gated>}
      {cr.status === 'approved' && can(write) && <Busy onClick={act('apply')} busyText="Applying…">Apply</Busy>}
      {live && cr.op === 'update' && can(write) && stale && <Busy onClick={act('rebase')} busyText="Rebasing…">Rebase on the current version</Busy>}
      {live && <Busy onClick={act('close')} busyText="Closing…">Close</Busy>}
    </>}>
      <p>
        <span class={'badge ' + (cr.status === 'applied' || cr.status === 'approved' ? 'ok' : '')}>{cr.status}</span>{' '}
        {cr.op} by {cr.authorName || cr.author} · {fmtTime(cr.createdAt)} · {cr.approvals} of {cr.required} approvals
        {cr.op === 'update' && <> · based on version {cr.baseVersion}</>}
        {cr.appliedVersion ? <> · applied as version {cr.appliedVersion}</> : null}
      </p>
      {cr.comment && <p>“{cr.comment}”</p>}
      {live && review && <p class="hint why" role="note">Approve and Reject: {review}</p>}
      <FormError err={err} />
      {stale && <p class="muted">The {cr.kind} changed since this request was made. Rebase it on the current version; approvals start over.</p>}
      <section class="card" aria-labelledby="h-cr-changes">
        <h2 id="h-cr-changes">What changes</h2>
        {cr.diff && cr.diff.length ? <ul>{cr.diff.map((d, i) => <li key={i}>{d}</li>)}</ul> : <p class="muted">A new {cr.kind}.</p>}
      </section>
      <section class="card" aria-labelledby="h-cr-diff">
        <h2 id="h-cr-diff">Side by side</h2>
        <table class="list diff sbs" aria-label="Side-by-side difference">
          <thead><tr><th scope="col">{cr.op === 'create' ? 'Now (none)' : `Based on (version ${cr.baseVersion})`}</th><th scope="col">Proposed</th></tr></thead>
          <tbody>{rows.map((r, i) => (
            <tr key={i} class={r.same ? '' : 'changed'}>
              <td class={r.same ? '' : 'del'}><pre>{r.l ?? ''}</pre></td>
              <td class={r.same ? '' : 'add'}><pre>{r.r ?? ''}</pre></td>
            </tr>))}
          </tbody>
        </table>
      </section>
      {live && cr.kind === 'flag' && cr.op === 'update' && !!cr.proposed && <ImpactPreview env={env} flagKey={cr.itemKey} proposed={cr.proposed} title="Impact if applied" />}
      <section class="card" aria-labelledby="h-cr-reviews">
        <h2 id="h-cr-reviews">Reviews</h2>
        {!cr.reviews || cr.reviews.length === 0 ? <p class="muted">No reviews yet.</p> : (
          <ul>{cr.reviews.map((r, i) => <li key={i}>{r.decision} by {r.actorName || r.actor} · {fmtTime(r.at)}{r.comment ? <> — “{r.comment}”</> : null}</li>)}</ul>)}
      </section>
    </Page>
  );
}

// ProposeButton is shown next to a save the API refused because the
// environment is protected: it sends the same draft as a change request.
export function ProposeButton({ env, err, kind, itemKey, baseVersion, proposed }: {
  env: Env; err: unknown; kind: 'flag' | 'segment'; itemKey?: string; baseVersion?: number; proposed: unknown;
}) {
  const [perr, setPerr] = useState<unknown>(null);
  if (!(err instanceof ApiError) || err.code !== 'change_request_required') return null;
  return <>
    <Busy onClick={async () => {
      setPerr(null);
      try {
        const cr = await api.createChangeRequest(env.id, { kind, key: itemKey, baseVersion, proposed });
        navigate(crPath(env, cr.id));
      } catch (e) { setPerr(e); }
    }} busyText="Proposing…">Propose as a change request</Busy>
    <FormError err={perr} />
  </>;
}
