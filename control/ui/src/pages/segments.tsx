// pages/segments.tsx: segment list, create, and the segment editor
// (included / excluded users, rules), archive / restore / delete, and the
// flags that use a segment.
import { useEffect, useState } from 'preact/hooks';
import { api, Env, Flag, Segment } from '../api';
import { navigate } from '../router';
import { ConditionRow } from '../rules';
import { ProposeButton } from './changes';
import { Busy, errorFor, Field, FieldError, FormError, Page, Select, Spinner, fmtTime, usePermissions } from '../ui';

const clone = <T,>(x: T): T => JSON.parse(JSON.stringify(x));
const keys = (t: string) => t.split(/[,\n]/).map((x) => x.trim()).filter(Boolean);

export function Segments({ env }: { env: Env }) {
  const canWrite = usePermissions(env)('segment:write');
  const [status, setStatus] = useState('');
  const [q, setQ] = useState('');
  const [items, setItems] = useState<Segment[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [desc, setDesc] = useState('');
  const [creating, setCreating] = useState(false);
  const [cErr, setCErr] = useState<unknown>(null);
  useEffect(() => { api.segments(env.id, status).then((r) => setItems(r.items)).catch(setErr); }, [status]);
  const shown = (items || []).filter((x) => !q || x.name.toLowerCase().includes(q.toLowerCase()));
  return (
    <Page title="Segments" actions={canWrite && !creating && <button type="button" class="primary" onClick={() => setCreating(true)}>Create segment</button>}>
      {creating && <form class="card" aria-label="Create segment" onSubmit={(e) => e.preventDefault()}>
        <div class="row">
          <Field label="Segment name" value={name} onInput={setName} err={cErr} field="name" />
          <Field label="Segment description" value={desc} onInput={setDesc} err={cErr} field="description" class="grow" />
        </div>
        <FormError err={cErr} fields={['name', 'description']} />
        <div class="buttons">
          <Busy type="submit" class="primary" onClick={async () => {
            try { const sg = await api.createSegment(env.id, { name, description: desc, included: [], excluded: [], rules: [], tags: [] }); navigate(`/envs/${env.id}/segments/${sg.id}`); }
            catch (e) { setCErr(e); }
          }} busyText="Creating…">Create</Busy>
          <button type="button" onClick={() => setCreating(false)}>Cancel</button>
        </div>
      </form>}
      <div class="filters" role="search">
        <Field label="Search segments" value={q} onInput={setQ} type="search" class="grow" />
        <Select label="Status" value={status} onChange={setStatus} options={[{ value: '', label: 'Active' }, { value: 'archived', label: 'Archived' }, { value: 'all', label: 'All' }]} />
      </div>
      <FormError err={err} />
      {!items ? <Spinner /> : (
        <table class="list">
          <thead><tr><th>Name</th><th>Included</th><th>Excluded</th><th>Rules</th><th>Updated</th></tr></thead>
          <tbody>
            {shown.map((x) => (
              <tr key={x.id}>
                <td><a href={`/envs/${env.id}/segments/${x.id}`}>{x.name}</a>{x.isArchived && <span class="badge">archived</span>}<div class="muted">{x.description}</div></td>
                <td>{x.included.length}</td><td>{x.excluded.length}</td><td>{x.rules.length}</td><td class="muted">{fmtTime(x.updatedAt)}</td>
              </tr>
            ))}
            {shown.length === 0 && <tr><td colSpan={5} class="muted">No segments.</td></tr>}
          </tbody>
        </table>
      )}
    </Page>
  );
}

export function SegmentDetail({ env, id }: { env: Env; id: string }) {
  const canWrite = usePermissions(env)('segment:write');
  const [seg, setSeg] = useState<Segment | null>(null);
  const [draft, setDraft] = useState<Segment | null>(null);
  const [inc, setInc] = useState('');
  const [exc, setExc] = useState('');
  const [flags, setFlags] = useState<Flag[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const adopt = (x: Segment) => { setSeg(x); setDraft(clone(x)); setInc(x.included.join(', ')); setExc(x.excluded.join(', ')); };
  useEffect(() => {
    api.segment(env.id, id).then(adopt).catch(setErr);
    api.segmentFlags(env.id, id).then((r) => setFlags(r.items)).catch(() => {});
  }, []);
  if (!seg || !draft) return <><Spinner /><FormError err={err} /></>;
  const ro = !canWrite || seg.isArchived;
  const upd = (f: (d: Segment) => void) => { const d = clone(draft); f(d); setDraft(d); setSaved(''); };
  const dirty = JSON.stringify(seg) !== JSON.stringify(draft);
  const act = async (f: () => Promise<Segment>) => { setErr(null); try { adopt(await f()); } catch (e) { setErr(e); } };
  return (
    <Page title={seg.name} actions={canWrite && <>
      {!seg.isArchived && <Busy onClick={() => act(() => api.archiveSegment(env.id, id, seg.version))} busyText="Archiving…">Archive</Busy>}
      {seg.isArchived && <Busy onClick={() => act(() => api.restoreSegment(env.id, id, seg.version))} busyText="Restoring…">Restore</Busy>}
      <Busy class="danger" onClick={async () => {
        if (!confirm(`Delete segment ${seg.name}?`)) return;
        try { await api.deleteSegment(env.id, id, seg.version); navigate(`/envs/${env.id}/segments`); } catch (e) { setErr(e); }
      }} busyText="Deleting…">Delete</Busy>
    </>}>
      <p class="muted"><a href={`/envs/${env.id}/segments`}>← Segments</a> · version {seg.version} · updated {fmtTime(seg.updatedAt)}</p>
      {seg.isArchived && <p class="notice">This segment is archived.</p>}
      <section class="card">
        <div class="row">
          <Field label="Name" value={draft.name} readOnly={ro} err={err} field="name" onInput={(v) => upd((d) => { d.name = v; })} />
          <Field label="Description" value={draft.description} readOnly={ro} err={err} field="description" class="grow" onInput={(v) => upd((d) => { d.description = v; })} />
        </div>
        <Field label="Included users (keys)" value={inc} readOnly={ro} err={err} field="included" textarea rows={2}
          onInput={(v) => { setInc(v); upd((d) => { d.included = keys(v); }); }} />
        <Field label="Excluded users (keys)" value={exc} readOnly={ro} err={err} field="excluded" textarea rows={2}
          onInput={(v) => { setExc(v); upd((d) => { d.excluded = keys(v); }); }} hint="Excluded wins over included, which wins over rules." />
      </section>
      <section class="card">
        <h2>Rules</h2>
        {draft.rules.map((r, i) => (
          <div class="rule" role="group" aria-label={`Segment rule ${i + 1}`} key={r.id || i}>
            {r.conditions.map((c, j) => (
              <ConditionRow key={c.id || j} c={c} label={`Segment rule ${i + 1} condition ${j + 1}`} segments={[]} ro={ro} err={err}
                field={`rules[${i}].conditions[${j}]`} propsList="" allowSegments={false}
                onChange={(nc) => upd((d) => { d.rules[i].conditions[j] = nc; })}
                onRemove={() => upd((d) => { d.rules[i].conditions.splice(j, 1); })} />
            ))}
            {!ro && <div class="buttons">
              <button type="button" class="small" onClick={() => upd((d) => { d.rules[i].conditions.push({ property: '', op: 'Equal', value: '' }); })}>Add condition</button>
              <button type="button" class="small danger" aria-label={`Remove segment rule ${i + 1}`} onClick={() => upd((d) => { d.rules.splice(i, 1); })}>Remove rule</button>
            </div>}
          </div>
        ))}
        {!ro && <button type="button" onClick={() => upd((d) => { d.rules.push({ name: '', conditions: [{ property: '', op: 'Equal', value: '' }] }); })}>Add rule</button>}
        <FieldError id="seg-rules-err" msg={errorFor(err, 'rules', true)} />
      </section>
      {!ro && <div class="savebar">
        <FormError err={err} fields={['name', 'description', 'included', 'excluded', 'rules']} />
        <ProposeButton env={env} err={err} kind="segment" itemKey={seg.id} baseVersion={seg.version} proposed={draft} />
        <span role="status" class="saved">{saved || (dirty ? 'Unsaved changes' : '')}</span>
        <Busy class="primary" disabled={!dirty} onClick={async () => {
          setErr(null);
          try { adopt(await api.updateSegment(env.id, draft)); setSaved('Saved.'); } catch (e) { setErr(e); }
        }} busyText="Saving…">Save changes</Busy>
      </div>}
      <section class="card">
        <h2>Flags using this segment</h2>
        {flags.length === 0 ? <p class="muted">None.</p> : <ul>{flags.map((f) => <li key={f.id}><a href={`/envs/${env.id}/flags/${encodeURIComponent(f.key)}`}>{f.name}</a></li>)}</ul>}
      </section>
    </Page>
  );
}
