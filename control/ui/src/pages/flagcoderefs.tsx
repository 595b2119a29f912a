// pages/flagcoderefs.tsx: the code references of the flag (uploaded by coderefs).
import { useEffect, useState } from 'preact/hooks';
import { api, CodeRef, Env, Flag } from '../api';
import { FormError, Spinner } from '../ui';

export function CodeRefs({ env, flag }: { env: Env; flag: Flag }) {
  const [items, setItems] = useState<CodeRef[] | null>(null);
  const [total, setTotal] = useState(0);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => { api.codeRefs(env.projectId, flag.key).then((r) => { setItems(r.items || []); setTotal(r.total); }).catch(setErr); }, [flag.key]);
  return (
    <section class="card" aria-labelledby="h-coderefs">
      <h2 id="h-coderefs">Code references</h2>
      <FormError err={err} />
      {!items ? (!err && <Spinner />) : items.length === 0
        ? <p class="muted">No references to {flag.key} in the scanned repositories (upload them with the coderefs scanner).</p>
        : <>
          <p class="muted">{total} reference{total === 1 ? '' : 's'}{total > items.length ? ` (first ${items.length} shown)` : ''}.</p>
          <ul class="coderefs">{items.map((r, i) => (
            <li key={i} aria-label={`${r.repository} ${r.file}:${r.line}`}>
              <div><b>{r.repository}</b> <span class="badge">{r.branch}</span> <span class="mono">{r.file}:{r.line}</span>
                {r.commit && <span class="muted mono"> @{r.commit.slice(0, 10)}</span>}</div>
              {r.context && r.context.length > 0 && <pre class="snippet code">{r.context.map((l, j) => {
                const n = (r.contextStart || r.line) + j;
                return <span key={j} class={n === r.line ? 'hit' : ''}>{String(n).padStart(5, ' ')}  {l}{'\n'}</span>;
              })}</pre>}
            </li>
          ))}</ul>
        </>}
    </section>
  );
}
