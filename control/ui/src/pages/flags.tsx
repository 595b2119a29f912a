// pages/flags.tsx: the flag list (search, tag and status filters, toggle in
// place, paging) and the create-flag form.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiPaths, ApiError, Env, Flag, requestIdOf, StaleFlag, Variation } from '../api';
import { DeliveryProgress } from '../receipt';
import { navigate } from '../router';
import { Busy, errorFor, Field, FieldError, FormError, Page, Select, Spinner, Switch, fmtTime, usePermissions } from '../ui';

const PAGE = 50;

export function FlagList({ env }: { env: Env }) {
  const can = usePermissions(env);
  const [q, setQ] = useState('');
  const [debounced, setDebounced] = useState('');
  const [status, setStatus] = useState('');
  const [tags, setTags] = useState<string[]>([]);
  const [allTags, setAllTags] = useState<string[]>([]);
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<{ items: Flag[]; total: number } | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [creating, setCreating] = useState(false);
  const [rowErr, setRowErr] = useState<Record<string, string>>({});
  const [stale, setStale] = useState<Record<string, StaleFlag>>({});

  useEffect(() => { const t = setTimeout(() => { setDebounced(q); setOffset(0); }, 250); return () => clearTimeout(t); }, [q]);

  const seq = useRef(0);
  const load = async () => {
    const my = ++seq.current; // answers to older queries are dropped
    setLoading(true);
    try {
      const d = await api.flags(env.id, { q: debounced, tags, status, offset, limit: PAGE });
      if (my !== seq.current) return;
      setData(d);
      setErr(null);
    } catch (e) { if (my === seq.current) setErr(e); } finally { if (my === seq.current) setLoading(false); }
  };
  useEffect(() => { load(); }, [debounced, status, tags.join('\u0000'), offset]);
  useEffect(() => {
    // the API has no tag list: gather the tags of all flags (first 1000)
    api.flags(env.id, { status: 'all', limit: 1000 }).then((r) => {
      const set = new Set<string>();
      r.items.forEach((f) => (f.tags || []).forEach((t) => set.add(t)));
      setAllTags([...set].sort());
    }).catch(() => {});
  }, [env.id, data?.total]);

  useEffect(() => {
    // stale flags and archived flags still in code (code references, issue 7)
    apiPaths().then((p) => {
      if (!p.has('/api/v1/projects/{projectId}/stale-flags')) return;
      api.staleFlags(env.projectId).then((r) => {
        const m: Record<string, StaleFlag> = {};
        for (const x of r.flags || []) if (x.envId === env.id) m[x.flagKey] = x;
        setStale(m);
      }).catch(() => {});
    });
  }, [env.id]);

  const [toggled, setToggled] = useState<{ key: string; rid: string } | null>(null); // the last toggle's delivery
  const toggle = async (f: Flag, on: boolean) => {
    setRowErr({ ...rowErr, [f.key]: '' });
    try {
      const nf = await api.toggleFlag(env.id, f.key, on, f.version);
      setData((d) => d && { ...d, items: d.items.map((x) => (x.key === f.key ? nf : x)) });
      setToggled({ key: f.key, rid: requestIdOf(nf) });
    } catch (e) {
      setRowErr({ ...rowErr, [f.key]: (e as Error).message });
      if (e instanceof ApiError && e.status === 409) load();
    }
  };

  return (
    <Page title="Feature flags" actions={can('flag:write') && !creating && <button type="button" class="primary" onClick={() => setCreating(true)}>Create flag</button>}>
      {creating && <CreateFlag env={env} onCancel={() => setCreating(false)} />}
      {toggled?.rid && <div class="toggled"><span class="muted">Toggled <span class="mono">{toggled.key}</span>:</span> <DeliveryProgress env={env} requestId={toggled.rid} /></div>}
      <div class="filters" role="search">
        <Field label="Search flags" value={q} onInput={setQ} placeholder="name or key" type="search" class="grow" />
        <Select label="Status" value={status} onChange={(v) => { setStatus(v); setOffset(0); }} options={[
          { value: '', label: 'Active' }, { value: 'enabled', label: 'Enabled' }, { value: 'disabled', label: 'Disabled' },
          { value: 'archived', label: 'Archived' }, { value: 'all', label: 'All' }]} />
        {allTags.length > 0 && <fieldset class="tag-filter">
          <legend>Tags</legend>
          {allTags.map((t) => {
            const on = tags.includes(t);
            return <button key={t} type="button" class={'tag' + (on ? ' on' : '')} aria-pressed={on ? 'true' : 'false'}
              onClick={() => { setTags(on ? tags.filter((x) => x !== t) : [...tags, t]); setOffset(0); }}>{t}</button>;
          })}
        </fieldset>}
      </div>
      <FormError err={err} />
      {!data ? <Spinner /> : (
        <>
          <table class="list" aria-busy={loading ? 'true' : undefined}>
            <thead><tr><th>Name</th><th>Type</th><th>Tags</th><th>Status</th><th>Updated</th></tr></thead>
            <tbody>
              {data.items.map((f) => (
                <tr key={f.id}>
                  <td><a href={`/envs/${env.id}/flags/${encodeURIComponent(f.key)}`}>{f.name}</a><div class="mono muted">{f.key}</div>
                    {stale[f.key] && <StaleBadge r={stale[f.key]} />}</td>
                  <td>{f.variationType}</td>
                  <td>{(f.tags || []).map((t) => <span key={t} class="tag static">{t}</span>)}</td>
                  <td>
                    {f.isArchived ? <span class="badge">archived</span>
                      : can('flag:toggle') ? <Switch checked={f.isEnabled} label={`Enable ${f.key}`} onChange={(v) => toggle(f, v)} />
                        : <span class={'badge ' + (f.isEnabled ? 'ok' : '')}>{f.isEnabled ? 'On' : 'Off'}</span>}
                    {rowErr[f.key] && <div class="field-error" role="alert">{rowErr[f.key]}</div>}
                  </td>
                  <td class="muted">{fmtTime(f.updatedAt)}</td>
                </tr>
              ))}
              {data.items.length === 0 && <tr><td colSpan={5} class="muted">No flags match.</td></tr>}
            </tbody>
          </table>
          <div class="pager">
            <span class="muted">{data.total} flag{data.total === 1 ? '' : 's'}{loading ? ' · loading…' : ''}</span>
            <button type="button" class="small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous page</button>
            <button type="button" class="small" disabled={offset + PAGE >= data.total} onClick={() => setOffset(offset + PAGE)}>Next page</button>
          </div>
        </>
      )}
    </Page>
  );
}

// StaleBadge: "stale" or "risk" (archived but still in code); the reasons
// show on hover (title) and when expanded (keyboard: Enter on the summary).
function StaleBadge({ r }: { r: StaleFlag }) {
  const reasons = (r.reasons || []).map((x) => x.message);
  const kind = r.risk ? 'risk' : r.stale ? 'stale' : '';
  if (!kind) return null;
  return (
    <details class={'stale-badge ' + kind} data-testid={'stale-' + r.flagKey}>
      <summary title={reasons.join('\n')} aria-label={`${kind}: ${reasons.join('; ')}`}>{kind}</summary>
      <ul>{reasons.map((m, i) => <li key={i}>{m}</li>)}</ul>
    </details>
  );
}

function CreateFlag({ env, onCancel }: { env: Env; onCancel: () => void }) {
  const [key, setKey] = useState('');
  const [name, setName] = useState('');
  const [type, setType] = useState('boolean');
  const [desc, setDesc] = useState('');
  const [tags, setTags] = useState('');
  const [vars, setVars] = useState<Variation[]>([{ id: '', name: '', value: '' }, { id: '', name: '', value: '' }]);
  const [err, setErr] = useState<unknown>(null);

  const submit = async () => {
    setErr(null);
    const f: any = {
      key: key.trim(), name: name.trim(), variationType: type, description: desc,
      tags: tags.split(',').map((t) => t.trim()).filter(Boolean),
    };
    if (type !== 'boolean') f.variations = vars.map((v) => ({ id: '', name: v.name, value: v.value }));
    try {
      const nf = await api.createFlag(env.id, f);
      navigate(`/envs/${env.id}/flags/${encodeURIComponent(nf.key)}`);
    } catch (e) { setErr(e); }
  };
  const varErr = errorFor(err, 'variations');
  return (
    <form class="card create" aria-label="Create flag" onSubmit={(e) => e.preventDefault()}>
      <h2>New flag</h2>
      <div class="row">
        <Field label="Key" value={key} onInput={setKey} err={err} field="key" placeholder="new-checkout" required hint="Letters, digits, '.', '_' or '-'; SDKs ask for the flag by this key." />
        <Field label="Name" value={name} onInput={setName} err={err} field="name" placeholder="New checkout" />
        <Select label="Type" value={type} onChange={setType} err={err} field="variationType" options={[
          { value: 'boolean', label: 'Boolean' }, { value: 'string', label: 'String' }, { value: 'number', label: 'Number' }, { value: 'json', label: 'JSON' }]} />
      </div>
      {type !== 'boolean' && (
        <fieldset>
          <legend>Variations</legend>
          {vars.map((v, i) => (
            <div class="row" key={i}>
              <Field label={`Variation ${i + 1} name`} value={v.name} onInput={(x) => setVars(vars.map((y, j) => (j === i ? { ...y, name: x } : y)))} err={err} field={`variations[${i}].name`} />
              <Field label={`Variation ${i + 1} value`} value={v.value} onInput={(x) => setVars(vars.map((y, j) => (j === i ? { ...y, value: x } : y)))} err={err} field={`variations[${i}].value`} />
              <button type="button" class="small danger" aria-label={`Remove variation ${i + 1}`} disabled={vars.length <= 1} onClick={() => setVars(vars.filter((_, j) => j !== i))}>Remove</button>
            </div>
          ))}
          <button type="button" class="small" onClick={() => setVars([...vars, { id: '', name: '', value: '' }])}>Add variation</button>
          <FieldError id="create-vars-err" msg={varErr} />
        </fieldset>
      )}
      {type === 'boolean' && <p class="muted">A boolean flag serves <code>true</code> or <code>false</code>.</p>}
      <div class="row">
        <Field label="Tags" value={tags} onInput={setTags} err={err} field="tags" placeholder="comma, separated" class="grow" />
        <Field label="Description" value={desc} onInput={setDesc} err={err} field="description" class="grow" />
      </div>
      <FormError err={err} fields={['key', 'name', 'variationType', 'variations', 'tags', 'description']} />
      <div class="buttons">
        <Busy type="submit" class="primary" onClick={submit} busyText="Creating…">Create</Busy>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
