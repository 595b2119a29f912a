// pages/endusers.tsx: end users the SDKs reported, searchable, with their
// properties.
import { useEffect, useState } from 'preact/hooks';
import { api, EndUser, Env } from '../api';
import { Field, FormError, Page, Spinner, fmtTime } from '../ui';

export function EndUsers({ env }: { env: Env }) {
  const [q, setQ] = useState(() => new URLSearchParams(location.search).get('q') || '');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<{ items: EndUser[]; total: number } | null>(null);
  const [open, setOpen] = useState('');
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    let stale = false;
    const t = setTimeout(() => api.endUsers(env.id, q, offset)
      .then((d) => { if (!stale) { setData(d); setErr(null); } })
      .catch((e) => { if (!stale) setErr(e); }), 200);
    return () => { stale = true; clearTimeout(t); };
  }, [q, offset]);
  return (
    <Page title="End users">
      <div class="filters" role="search"><Field label="Search end users" value={q} onInput={(v) => { setQ(v); setOffset(0); }} type="search" placeholder="key or name" class="grow" /></div>
      <FormError err={err} />
      {!data ? <Spinner /> : <>
        <table class="list">
          <thead><tr><th>Key</th><th>Name</th><th>Properties</th><th>Last seen</th></tr></thead>
          <tbody>
            {data.items.map((u) => (
              <tr key={u.keyId}>
                <td><button type="button" class="link" aria-expanded={open === u.keyId ? 'true' : 'false'} onClick={() => setOpen(open === u.keyId ? '' : u.keyId)}>{u.keyId}</button></td>
                <td>{u.name}</td>
                <td>{open === u.keyId
                  ? <dl class="props">{(u.customizedProperties || []).map((p) => <><dt key={'k' + p.name}>{p.name}</dt><dd key={'v' + p.name}>{p.value}</dd></>)}
                    <dt>first seen</dt><dd>{fmtTime(u.firstSeen)}</dd></dl>
                  : <span class="muted">{(u.customizedProperties || []).map((p) => `${p.name}=${p.value}`).join(', ') || '—'}</span>}</td>
                <td class="muted">{fmtTime(u.lastSeen)}</td>
              </tr>
            ))}
            {data.items.length === 0 && <tr><td colSpan={4} class="muted">No end users yet: they appear when SDKs evaluate flags for them.</td></tr>}
          </tbody>
        </table>
        <div class="pager">
          <span class="muted">{data.total} end users</span>
          <button type="button" class="small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>Previous page</button>
          <button type="button" class="small" disabled={offset + 50 >= data.total} onClick={() => setOffset(offset + 50)}>Next page</button>
        </div>
      </>}
    </Page>
  );
}
