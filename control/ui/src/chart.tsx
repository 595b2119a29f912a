// chart.tsx: small inline-SVG charts (no library): a multi-series line chart
// over time and a bar chart with confidence whiskers.

export const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#dc2626', '#0891b2', '#ca8a04', '#db2777'];

export interface Series { name: string; color: string; points: { x: number; y: number }[] }

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmtNum = (n: number) => (Math.abs(n) >= 1000 ? (n / 1000).toFixed(n >= 10000 ? 0 : 1) + 'k' : String(Math.round(n * 100) / 100));

export function LineChart({ series, label, xFormat, width = 760, height = 260 }: {
  series: Series[]; label: string; xFormat: (x: number) => string; width?: number; height?: number;
}) {
  const pad = { l: 48, r: 12, t: 12, b: 28 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  if (!xs.length) return <div class="chart-empty muted">No data in this range.</div>;
  const x0 = Math.min(...xs), x1 = Math.max(...xs), yMax = niceMax(Math.max(...ys));
  const W = width - pad.l - pad.r, H = height - pad.t - pad.b;
  const sx = (x: number) => pad.l + (x1 === x0 ? W / 2 : ((x - x0) / (x1 - x0)) * W);
  const sy = (y: number) => pad.t + H - (y / yMax) * H;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  const xt = Array.from({ length: 5 }, (_, i) => x0 + ((x1 - x0) * i) / 4);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} preserveAspectRatio="xMidYMid meet">
        <title>{label}</title>
        {ticks.map((t) => <g key={t}>
          <line x1={pad.l} x2={width - pad.r} y1={sy(t)} y2={sy(t)} class="grid" />
          <text x={pad.l - 6} y={sy(t) + 4} text-anchor="end" class="axis">{fmtNum(t)}</text>
        </g>)}
        {xt.map((t, i) => <text key={i} x={sx(t)} y={height - 8} text-anchor={i === 0 ? 'start' : i === 4 ? 'end' : 'middle'} class="axis">{xFormat(t)}</text>)}
        {series.map((s) => (
          <g key={s.name}>
            <polyline fill="none" stroke={s.color} stroke-width="2" points={s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')} />
            {s.points.length <= 60 && s.points.map((p) => <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r="2.5" fill={s.color}><title>{`${s.name}: ${p.y} at ${xFormat(p.x)}`}</title></circle>)}
          </g>
        ))}
      </svg>
      <figcaption class="legend">{series.map((s) => <span key={s.name}><i style={{ background: s.color }} />{s.name}</span>)}</figcaption>
    </figure>
  );
}

export interface Bar { name: string; value: number | null; lo?: number | null; hi?: number | null; color: string; baseline?: boolean }

export function BarChart({ bars, label, format, width = 520, height = 220 }: {
  bars: Bar[]; label: string; format: (v: number) => string; width?: number; height?: number;
}) {
  const pad = { l: 56, r: 12, t: 16, b: 32 };
  const vals = bars.flatMap((b) => [b.value, b.hi].filter((v): v is number => v != null));
  const yMax = niceMax(Math.max(0, ...vals));
  const W = width - pad.l - pad.r, H = height - pad.t - pad.b;
  const bw = W / Math.max(1, bars.length);
  const sy = (y: number) => pad.t + H - (Math.max(0, Math.min(y, yMax)) / yMax) * H;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
        <title>{label}</title>
        {[0, 0.5, 1].map((f) => <g key={f}>
          <line x1={pad.l} x2={width - pad.r} y1={sy(f * yMax)} y2={sy(f * yMax)} class="grid" />
          <text x={pad.l - 6} y={sy(f * yMax) + 4} text-anchor="end" class="axis">{format(f * yMax)}</text>
        </g>)}
        {bars.map((b, i) => {
          const x = pad.l + i * bw + bw * 0.2, w = bw * 0.6;
          return <g key={b.name}>
            {b.value != null && <rect x={x} y={sy(b.value)} width={w} height={pad.t + H - sy(b.value)} fill={b.color} opacity={b.baseline ? 0.6 : 0.9}>
              <title>{`${b.name}: ${format(b.value)}`}</title></rect>}
            {b.lo != null && b.hi != null && <g class="whisker">
              <line x1={x + w / 2} x2={x + w / 2} y1={sy(b.lo)} y2={sy(b.hi)} />
              <line x1={x + w / 2 - 6} x2={x + w / 2 + 6} y1={sy(b.lo)} y2={sy(b.lo)} />
              <line x1={x + w / 2 - 6} x2={x + w / 2 + 6} y1={sy(b.hi)} y2={sy(b.hi)} />
            </g>}
            <text x={x + w / 2} y={height - 12} text-anchor="middle" class="axis">{b.name}{b.baseline ? ' (baseline)' : ''}</text>
          </g>;
        })}
      </svg>
    </figure>
  );
}
