// receipt.tsx: the live delivery progress of a write (docs/delivery.md):
// after a save or toggle, how many of the environment's streaming
// connections, across all edges, hold the change, updated until every edge
// has confirmed it or RECEIPT_DEADLINE passes.
import { useEffect, useState } from 'preact/hooks';
import { apiPaths, ApiError, Env, request } from './api';

export const RECEIPT_ROUTE = '/api/v1/envs/{envId}/changes/{requestId}/receipt';
const RECEIPT_DEADLINE = 60_000; // ms the bar keeps asking after the write
const WAIT = '1s'; // each call waits this long for completion, so updates come about once a second
const MIN_GAP = 500; // ms between two calls at least

export interface Counts { server: number; client: number; total: number }
export interface EdgeReceipt { edge: string; envVersion: number; connections: Counts; delivered: boolean; deliveredAt?: number }
export interface Receipt {
  requestId: string; envId: string; envVersion: number; changedAt?: number; connections: Counts; delivered: Counts;
  fraction: number; complete: boolean; deliveredInMs?: number; edges: EdgeReceipt[] | null; reached?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const num = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = one + 's') => `${num(n)} ${n === 1 ? one : many}`;
// edgeName shortens an edge id ("host:port:startMs") to host:port.
export const edgeName = (id: string) => id.split(':').slice(0, -1).join(':') || id;

type State =
  | { k: 'waiting' } // the change is not known to control yet
  | { k: 'receipt'; r: Receipt }
  | { k: 'off'; why: string }; // no receipts on this server

// receiptText is what the bar says about r (also its aria-valuetext).
export function receiptText(r: Receipt, timedOut: boolean): string {
  const n = r.delivered.total, m = r.connections.total;
  if (m === 0) return 'No SDKs are connected to this environment: nothing to deliver.';
  const head = `Delivered to ${num(n)} of ${plural(m, 'connection')}`;
  if (r.complete) return r.deliveredInMs != null ? `${head} in ${(r.deliveredInMs / 1000).toFixed(1)} s.` : head + '.';
  const waiting = (r.edges || []).filter((e) => !e.delivered && e.connections.total > 0).length;
  const edges = waiting ? `; ${plural(waiting, 'edge')} ${waiting === 1 ? 'has' : 'have'} not confirmed yet` : '';
  return `${head}${edges}${timedOut ? ` (still not confirmed ${RECEIPT_DEADLINE / 1000} s after the change)` : '…'}`;
}

// DeliveryProgress follows the receipt of the write with requestId ('' shows
// nothing). A new requestId starts over.
export function DeliveryProgress({ env, requestId }: { env: Env; requestId: string }) {
  const [st, setSt] = useState<State>({ k: 'waiting' });
  const [timedOut, setTimedOut] = useState(false);
  const [round, setRound] = useState(0); // "Check again" restarts the loop
  useEffect(() => {
    if (!requestId) return;
    let stop = false;
    setSt({ k: 'waiting' }); setTimedOut(false);
    (async () => {
      const paths = await apiPaths();
      if (paths.size && !paths.has(RECEIPT_ROUTE)) { if (!stop) setSt({ k: 'off', why: 'This server has no delivery receipts.' }); return; }
      const path = `/api/v1/envs/${encodeURIComponent(env.id)}/changes/${encodeURIComponent(requestId)}/receipt?until=1&timeout=${WAIT}`;
      const end = Date.now() + RECEIPT_DEADLINE;
      while (!stop && Date.now() < end) {
        const t0 = Date.now();
        try {
          const r = await request<Receipt>('GET', path);
          if (stop) return;
          setSt({ k: 'receipt', r });
          if (r.complete || r.connections.total === 0) return;
          await sleep(MIN_GAP - (Date.now() - t0)); // a server that answers at once is not asked in a tight loop
        } catch (e) {
          if (stop) return;
          if (e instanceof ApiError && e.status === 404) { await sleep(MIN_GAP - (Date.now() - t0)); continue; } // not known yet
          if (e instanceof ApiError && (e.status === 503 || e.status === 403)) { setSt({ k: 'off', why: e.message }); return; }
          await sleep(1000); // a network hiccup: try again
        }
      }
      if (!stop) setTimedOut(true);
    })();
    return () => { stop = true; };
  }, [env.id, requestId, round]);
  if (!requestId) return null;
  if (st.k === 'off') return <p class="delivery muted" role="status">{st.why}</p>;
  const r = st.k === 'receipt' ? st.r : null;
  const total = r ? r.connections.total : 0;
  const done = r ? r.delivered.total : 0;
  const text = !r ? (timedOut ? `No edge reported this change within ${RECEIPT_DEADLINE / 1000} s.` : 'Waiting for the edges to report the change…')
    : receiptText(r, timedOut);
  const pct = !r ? 0 : total === 0 ? 100 : Math.min(100, Math.round((done / total) * 1000) / 10);
  const state = !r ? (timedOut ? 'late' : 'wait') : total === 0 ? 'none' : r.complete ? 'done' : timedOut ? 'late' : 'wait';
  const behind = r && !r.complete ? (r.edges || []).filter((e) => !e.delivered && e.connections.total > 0) : [];
  return (
    <div class={'delivery ' + state} data-testid="delivery" data-state={state}>
      <div class="progress" role="progressbar" aria-label="Delivery to connected SDKs" aria-valuemin={0}
        aria-valuemax={Math.max(total, 1)} aria-valuenow={total === 0 ? (r ? 1 : 0) : done} aria-valuetext={text}>
        <span class="fill" style={{ width: pct + '%' }} />
      </div>
      <p class="delivery-text" role="status" aria-live="polite">{text}
        {r && total > 0 && <span class="muted"> ({[r.connections.server ? `${num(r.delivered.server)} of ${num(r.connections.server)} server` : '',
          r.connections.client ? `${num(r.delivered.client)} of ${num(r.connections.client)} client` : ''].filter(Boolean).join(', ')})</span>}
      </p>
      {behind.length > 0 && timedOut && <p class="muted small">Not confirmed by: {behind.map((e) => `${edgeName(e.edge)} (${plural(e.connections.total, 'connection')})`).join(', ')}.
        {' '}An edge that stopped or cannot reach Kafka is forgotten after three missed heartbeats.</p>}
      {timedOut && <button type="button" class="small" onClick={() => setRound((n) => n + 1)}>Check again</button>}
    </div>
  );
}
