// pages/endusers.tsx: end users the SDKs reported, searchable, with their
// properties; each links to its detail page (pages/enduser.tsx); CSV import.
import { useEffect, useState } from 'preact/hooks';
import { api, EndUser, Env } from '../api';
import { Field, FormError, Page, Spinner, fmtTime } from '../ui';
import { CsvImport } from './enduser';

export function EndUsers({ env }: { env: Env }) {
  const [q, setQ] = useState(() => new URLSearchParams(location.search).get('q') || '');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<{ items: EndUser[]; total: number } | null>(null);
  const [open, setOpen] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [rev, setRev] = useState(0);
  const erased = new URLSearchParams(location.search).get('erased');
  useEffect(() => {
    let stale = false;
    const t = setTimeout(() => api.endUsers(env.id, q, offset)
      .then((d) => { if (!stale) { setData(d); setErr(null); } })
      .catch((e) => { if (!stale) setErr(e); }), 200);
    return () => { stale = true; clearTimeout(t); };
  }, [q, offset, rev]);
  return (
    <Page title="End users">
      {erased && <p class="notice" role="status">Erased end user {erased} and their events.</p>}
      <CsvImport env={env} onDone={() => setRev((n) => n + 1)} />
      <div class="filters" role="search"><Field label="Search end users" value={q} onInput={(v) => { setQ(v); setOffset(0); }} type="search" placeholder="key or name" class="grow" /></div>
      <FormError err={err} />
      {!data ? <Spinner /> : <>
        <table class="list">
          <thead><tr><th>Key</th><th>Name</th><th>Properties</th><th>Last seen</th></tr></thead>
          <tbody>
            {data.items.map((u) => (
              <tr key={u.keyId}>
                <td><a class="key" href={`/envs/${env.id}/end-users/${encodeURIComponent(u.keyId)}`}>{u.keyId}</a>
                  {' '}<button type="button" class="link small" aria-expanded={open === u.keyId ? 'true' : 'false'} aria-label={`Properties of ${u.keyId}`} onClick={() => setOpen(open === u.keyId ? '' : u.keyId)}>{open === u.keyId ? '▾' : '▸'}</button></td>
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
