// comment.tsx: the change-comment dialog. When an environment requires a
// change comment, every write under it asks here first (api.ts calls the
// registered provider); the comment travels with the request, the audit log
// records it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { setCommentProvider } from './api';
import { Dialog } from './ui';

interface Ask { what: string; resolve: (c: string | null) => void }

// describe names the write in words: "toggle flag welcome-banner",
// "save flag checkout-flow", "create trigger on flag x"; else method and path.
const describe = (method: string, path: string) => {
  const p = path.replace(/^\/api\/v1\/envs\/[^/]+\//, '').split('?')[0].split('/').map(decodeURIComponent);
  const verb: Record<string, string> = { PUT: 'save', DELETE: 'delete', POST: 'create' };
  if (p.length === 2) return `${verb[method] || method} ${p[0].replace(/s$/, '')} ${p[1]}`;
  if (p.length === 3 && (p[0] === 'flags' || p[0] === 'segments')) {
    const what = `${p[0].replace(/s$/, '')} ${p[1]}`;
    if (p[2] === 'triggers' || p[2] === 'schedules') return `${verb[method] || method} ${p[2].replace(/s$/, '')} on ${what}`;
    return `${p[2]} ${what}`;
  }
  return `${method} ${p.join('/')}`;
};

export function CommentDialog() {
  const [ask, setAsk] = useState<Ask | null>(null);
  const [text, setText] = useState('');
  const [err, setErr] = useState('');
  const input = useRef<HTMLTextAreaElement>(null);
  const last = useRef('');
  useEffect(() => {
    setCommentProvider((_env, method, path) => new Promise((resolve) => {
      setText(last.current); setErr('');
      setAsk({ what: describe(method, path), resolve });
    }));
    return () => setCommentProvider(null);
  }, []);
  useEffect(() => { if (ask) input.current?.focus(); }, [ask]);
  if (!ask) return null;
  const done = (c: string | null) => { ask.resolve(c); setAsk(null); };
  const submit = () => {
    const c = text.trim();
    if (!c) { setErr('This environment requires a change comment.'); return; }
    last.current = c;
    done(c);
  };
  return (
    <Dialog title="Change comment" onClose={() => done(null)}>
      <p class="muted">This environment requires a comment on every change ({ask.what}).</p>
      <form onSubmit={(e) => { e.preventDefault(); submit(); }}>
        <div class="field">
          <label for="cc-text">Change comment</label>
          <textarea id="cc-text" ref={input} rows={3} value={text} aria-invalid={err ? 'true' : undefined}
            aria-describedby={err ? 'cc-err' : undefined} onInput={(e) => { setText((e.target as HTMLTextAreaElement).value); setErr(''); }}
            onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); } }} />
          {err && <div class="field-error" id="cc-err" role="alert">{err}</div>}
        </div>
        <div class="buttons">
          <button type="submit" class="primary">Apply change</button>
          <button type="button" onClick={() => done(null)}>Cancel change</button>
        </div>
      </form>
    </Dialog>
  );
}
