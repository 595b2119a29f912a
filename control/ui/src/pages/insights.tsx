// pages/insights.tsx: evaluations per variation over time (analytics' query
// API) as a line chart, and users per variation.
import { useEffect, useState } from 'preact/hooks';
import { analyticsError, api, Env, Flag } from '../api';
import { LineChart, PALETTE, Series } from '../chart';
import { FormError, Page, Select, Spinner } from '../ui';
import { InsightUsers } from './insightusers';

const RANGES: Record<string, { ms: number; bucket: string; bucketMs: number; label: string }> = {
  '1h': { ms: 3600e3, bucket: 'minute', bucketMs: 60e3, label: 'Last hour (per minute)' },
  '24h': { ms: 86400e3, bucket: 'hour', bucketMs: 3600e3, label: 'Last 24 hours (per hour)' },
  '7d': { ms: 7 * 86400e3, bucket: 'hour', bucketMs: 3600e3, label: 'Last 7 days (per hour)' },
  '30d': { ms: 30 * 86400e3, bucket: 'day', bucketMs: 86400e3, label: 'Last 30 days (per day)' },
};

export function Insights({ env }: { env: Env }) {
  const [flags, setFlags] = useState<Flag[] | null>(null);
  const [key, setKey] = useState('');
  const [range, setRange] = useState('24h');
  const [series, setSeries] = useState<Series[] | null>(null);
  const [users, setUsers] = useState<{ variationId: string; evaluations: number; users: number }[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [span, setSpan] = useState<[number, number]>([0, 0]);
  useEffect(() => {
    api.flags(env.id, { limit: 1000 }).then((r) => { setFlags(r.items); if (r.items[0]) setKey(r.items[0].key); }).catch(setErr);
  }, []);
  const flag = flags?.find((f) => f.key === key);
  useEffect(() => {
    if (!flag) return;
    const R = RANGES[range];
    const to = Date.now(), from = to - R.ms;
    setSpan([from, to]);
    let stale = false; // a newer selection wins over a slower older answer
    setLoading(true); setErr(null);
    Promise.all([api.evaluations(env.id, flag.key, from, to, R.bucket), api.variationUsers(env.id, flag.key, from, to)])
      .then(([ev, vu]) => {
        if (stale) return;
        const step = ev.bucketMs || R.bucketMs;
        const start = Math.floor(from / step) * step;
        const ids = new Set([...flag.variations.map((v) => v.id), ...(ev.points || []).map((p) => p.variationId)]);
        const out: Series[] = [...ids].map((id, i) => {
          const byT = new Map<number, number>();
          (ev.points || []).filter((p) => p.variationId === id).forEach((p) => byT.set(p.time, (byT.get(p.time) || 0) + p.count));
          const pts = [];
          for (let t = start; t <= to; t += step) pts.push({ x: t, y: byT.get(t) || 0 });
          const v = flag.variations.find((x) => x.id === id);
          return { name: v ? v.name || v.value : id, color: PALETTE[i % PALETTE.length], points: pts };
        });
        setSeries(out); setUsers(vu.variations || []);
      })
      .catch((e) => { if (!stale) { setErr(analyticsError(e)); setSeries(null); } })
      .finally(() => { if (!stale) setLoading(false); });
    return () => { stale = true; };
  }, [key, range, flags]);
  const fmt = (x: number) => {
    const d = new Date(x).toISOString();
    return RANGES[range].bucket === 'day' ? d.slice(5, 10) : range === '1h' || range === '24h' ? d.slice(11, 16) : d.slice(5, 13).replace('T', ' ') + 'h';
  };
  const total = users.reduce((a, u) => a + u.evaluations, 0);
  return (
    <Page title="Insights">
      <div class="filters">
        <Select label="Flag" value={key} onChange={setKey} options={(flags || []).map((f) => ({ value: f.key, label: `${f.name} (${f.key})` }))} />
        <Select label="Time range" value={range} onChange={setRange} options={Object.entries(RANGES).map(([k, v]) => ({ value: k, label: v.label }))} />
      </div>
      <FormError err={err} />
      {!flags ? <Spinner /> : !flag ? <p class="muted">No flags in this environment.</p> : (
        <section class="card" aria-busy={loading ? 'true' : undefined}>
          <h2>Evaluations per variation</h2>
          {loading && <Spinner label="Querying analytics…" />}
          {series && <LineChart series={series} label={`Evaluations of ${flag.key} per variation, ${RANGES[range].label}`} xFormat={fmt} />}
          <table class="list compact">
            <thead><tr><th>Variation</th><th>Evaluations</th><th>Share</th><th>Distinct users</th></tr></thead>
            <tbody>{flag.variations.map((v) => {
              const u = users.find((x) => x.variationId === v.id);
              return <tr key={v.id}><td>{v.name || v.value}</td><td>{u?.evaluations || 0}</td>
                <td>{total ? (((u?.evaluations || 0) / total) * 100).toFixed(1) + '%' : '—'}</td><td>{u?.users || 0}</td></tr>;
            })}</tbody>
          </table>
        </section>
      )}
      {flag && span[0] > 0 && <InsightUsers env={env} flag={flag} from={span[0]} to={span[1]} />}
    </Page>
  );
}
