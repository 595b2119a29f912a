// pages/insightusers.tsx: the per-user insight table of a flag — each end
// user's variation, evaluations and last evaluation in the range (analytics'
// users query, paged, at most 100 rows a page), filterable by variation.
import { useEffect, useState } from 'preact/hooks';
import { analyticsError, Env, exptApi, Flag, FlagUser } from '../api';
import { FormError, Select, Spinner, fmtTime } from '../ui';

const PAGE = 50;

export function InsightUsers({ env, flag, from, to }: { env: Env; flag: Flag; from: number; to: number }) {
  const [rows, setRows] = useState<FlagUser[] | null>(null);
  const [offset, setOffset] = useState(0);
  const [variation, setVariation] = useState('');
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => { setOffset(0); }, [flag.key, from, variation]);
  useEffect(() => {
    let stale = false;
    setErr(null);
    exptApi.flagUsers(env.id, flag.key, from, to, offset, PAGE, variation)
      .then((r) => { if (!stale) setRows(r.users || []); })
      .catch((e) => { if (!stale) { setErr(analyticsError(e)); setRows([]); } });
    return () => { stale = true; };
  }, [flag.key, from, offset, variation]);
  const name = (id: string) => { const v = flag.variations.find((x) => x.id === id); return v ? v.name || v.value : id; };
  return (
    <section class="card" aria-labelledby="h-insight-users">
      <h2 id="h-insight-users">End users</h2>
      <div class="filters">
        <Select label="Variation served" value={variation} onChange={setVariation}
          options={[{ value: '', label: 'all variations' }, ...flag.variations.map((v) => ({ value: v.id, label: name(v.id) }))]} />
      </div>
      <FormError err={err} />
      {!rows ? <Spinner /> : (
        <table class="list compact" aria-label={`End users of ${flag.key}`}>
          <thead><tr><th>User key</th><th>Name</th><th>Variation</th><th>Evaluations</th><th>Last evaluated</th></tr></thead>
          <tbody>
            {rows.map((u) => <tr key={u.userKey + u.variationId}><td class="mono">{u.userKey}</td><td>{u.userName}</td><td>{name(u.variationId)}</td>
              <td>{u.evaluations}</td><td class="muted">{fmtTime(u.lastSeen)}</td></tr>)}
            {rows.length === 0 && <tr><td colSpan={5} class="muted">No evaluations in this range.</td></tr>}
          </tbody>
        </table>
      )}
      <div class="buttons">
        <button type="button" class="small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous users</button>
        <span class="muted">{rows && rows.length ? `${offset + 1}–${offset + rows.length}` : ''}</span>
        <button type="button" class="small" disabled={!rows || rows.length < PAGE} onClick={() => setOffset(offset + PAGE)}>Next users</button>
      </div>
    </section>
  );
}
