// pages/flag.tsx: one flag: settings, variations, off variation, individual
// targeting, the ordered rule builder, the default rule, archive/restore,
// and the evaluate panel (when the API has an evaluation route).
import { useEffect, useState } from 'preact/hooks';
import { api, apiPaths, ApiError, Env, Flag, request, requestIdOf, Rule, Segment } from '../api';
import { DeliveryProgress } from '../receipt';
import { ImpactPreview } from '../impact';
import { FlagHistory, FlagVersions } from './audit';
import { CodeRefs } from './flagcoderefs';
import { Compare } from './flagcompare';
import { ScheduleDraft } from './flagschedule';
import { Triggers } from './flagtriggers';
import { ProposeButton } from './changes';
import { navigate } from '../router';
import { condText, DefaultCard, RuleCard, WhoGetsWhat } from '../rulecard';
import { ExperimentTargets, ExperimentTraffic, useRunningExperimentFlags } from '../expttraffic';
import { Busy, errorFor, Field, FieldError, FormError, Page, Select, Spinner, Switch, fmtTime, usePermissions, useSession } from '../ui';

const clone = <T,>(x: T): T => JSON.parse(JSON.stringify(x));

// Which rule cards are open: by rule id, or "#index" for a rule not saved
// yet; remapOpen carries the flags along when rules move or go.
const ruleKey = (r: Rule, i: number) => r.id || '#' + i;
function remapOpen(rules: Rule[], open: Record<string, boolean>, change: (rs: { r: Rule; o: boolean }[]) => void): Record<string, boolean> {
  const rs = rules.map((r, i) => ({ r, o: !!open[ruleKey(r, i)] }));
  change(rs);
  const out: Record<string, boolean> = {};
  rs.forEach((x, i) => { if (x.o) out[ruleKey(x.r, i)] = true; });
  return out;
}

export function FlagDetail({ env, flagKey }: { env: Env; flagKey: string }) {
  const can = usePermissions(env);
  const canWrite = can('flag:write');
  const [flag, setFlag] = useState<Flag | null>(null);
  const [draft, setDraft] = useState<Flag | null>(null);
  const [segments, setSegments] = useState<Segment[]>([]);
  const [props, setProps] = useState<string[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [loadErr, setLoadErr] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [tab, setTab] = useState('targeting');
  const [paths, setPaths] = useState<Set<string>>(new Set());
  const [openRules, setOpenRules] = useState<Record<string, boolean>>({});
  const [hit, setHit] = useState(-1); // the rule the last explanation matched (-2: the default rule)
  const [receipt, setReceipt] = useState(''); // request id of the last write (delivery progress)
  const ro = !canWrite || !!flag?.isArchived;
  const exptFlags = useRunningExperimentFlags(env.id);

  const load = async () => {
    try {
      const f = await api.flag(env.id, flagKey);
      setFlag(f); setDraft(clone(f)); setLoadErr(null);
    } catch (e) { setLoadErr(e); }
  };
  useEffect(() => {
    load();
    api.segments(env.id).then((r) => setSegments(r.items)).catch(() => {});
    api.endUserProps(env.id).then((r) => setProps(r.items)).catch(() => {});
    apiPaths().then(setPaths);
  }, []);

  const isDirty = !!flag && !!draft && JSON.stringify(flag) !== JSON.stringify(draft);
  useEffect(() => {
    if (!isDirty) return;
    const warn = (e: BeforeUnloadEvent) => { e.preventDefault(); e.returnValue = ''; };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [isDirty]);

  if (loadErr) return <Page title="Flag"><FormError err={loadErr} /><a href={`/envs/${env.id}/flags`}>Back to flags</a></Page>;
  if (!flag || !draft) return <Spinner />;

  const dirty = JSON.stringify(flag) !== JSON.stringify(draft);
  const upd = (f: (d: Flag) => void) => { const d = clone(draft); f(d); setDraft(d); setSaved(''); };
  const moveRule = (from: number, to: number) => {
    if (to < 0 || to >= draft.rules.length || from === to) return;
    setOpenRules(remapOpen(draft.rules, openRules, (rs) => { const [x] = rs.splice(from, 1); rs.splice(to, 0, x); }));
    upd((d) => { const [x] = d.rules.splice(from, 1); d.rules.splice(to, 0, x); });
  };
  const adopt = (nf: Flag, keepDraft = false) => {
    setFlag(nf);
    if (requestIdOf(nf)) setReceipt(requestIdOf(nf));
    if (keepDraft && dirty) setDraft({ ...draft, version: nf.version, isEnabled: nf.isEnabled, isArchived: nf.isArchived, updatedAt: nf.updatedAt });
    else setDraft(clone(nf));
  };
  const save = async () => {
    setErr(null); setSaved('');
    try {
      adopt(await api.updateFlag(env.id, draft));
      setSaved('Saved.');
    } catch (e) { setErr(e); }
  };
  const act = async (f: () => Promise<Flag>) => {
    setErr(null);
    try { adopt(await f(), true); } catch (e) { setErr(e); }
  };
  const varOpts = draft.variations.map((v) => ({ value: v.id, label: v.name || v.value }));
  const propsList = 'props-' + flag.id;

  return (
    <Page title={<>{flag.name} <span class="mono muted small-title">{flag.key}</span></>} actions={<>
      {flag.isArchived ? <span class="badge">archived</span>
        : can('flag:toggle') ? <Switch checked={flag.isEnabled} label={`Enable ${flag.key}`} onChange={(v) => act(() => api.toggleFlag(env.id, flag.key, v, flag.version))} />
          : <span class={'badge ' + (flag.isEnabled ? 'ok' : '')}>{flag.isEnabled ? 'On' : 'Off'}</span>}
      {canWrite && !flag.isArchived && <Busy onClick={() => act(() => api.archiveFlag(env.id, flag.key, flag.version))} busyText="Archiving…">Archive</Busy>}
      {canWrite && flag.isArchived && <Busy onClick={() => act(() => api.restoreFlag(env.id, flag.key, flag.version))} busyText="Restoring…">Restore</Busy>}
      {canWrite && flag.isArchived && <Busy class="danger" onClick={async () => {
        if (!confirm(`Delete flag ${flag.key} for good?`)) return;
        try { await api.deleteFlag(env.id, flag.key, flag.version); navigate(`/envs/${env.id}/flags`); } catch (e) { setErr(e); }
      }} busyText="Deleting…">Delete</Busy>}
    </>}>
      <p class="muted"><a href={`/envs/${env.id}/flags`}>← Flags</a> · {draft.variationType} · version {flag.version} · updated {fmtTime(flag.updatedAt)}</p>
      <DeliveryProgress env={env} requestId={receipt} />
      {flag.isArchived && <p class="notice">This flag is archived: SDKs no longer receive it. Restore it to edit.</p>}
      <FlagTabs tab={tab} setTab={setTab} paths={paths} />
      {tab === 'history' && <div role="tabpanel" id="tab-history" aria-labelledby="tabbtn-history"><FlagVersions env={env} flag={flag} canRestore={canWrite && !flag.isArchived} onRestored={(nf) => adopt(nf)} /><FlagHistory env={env} flagKey={flag.key} version={flag.version} /></div>}
      {tab === 'triggers' && <div role="tabpanel" id="tab-triggers" aria-labelledby="tabbtn-triggers"><Triggers env={env} flag={flag} onRun={async () => {
        // a run changes the flag: take its state, keep unsaved edits
        try { adopt(await api.flag(env.id, flagKey), true); } catch (e) { setErr(e); }
      }} /></div>}
      {tab === 'schedules' && <div role="tabpanel" id="tab-schedules" aria-labelledby="tabbtn-schedules"><ScheduleDraft env={env} flag={flag} draft={draft} dirty={dirty} onApplied={async () => {
        try { adopt(await api.flag(env.id, flagKey), true); } catch (e) { setErr(e); }
      }} /></div>}
      {tab === 'compare' && <div role="tabpanel" id="tab-compare" aria-labelledby="tabbtn-compare"><Compare env={env} flag={flag} /></div>}
      {tab === 'code' && <div role="tabpanel" id="tab-code" aria-labelledby="tabbtn-code"><CodeRefs env={env} flag={flag} /></div>}
      {tab === 'targeting' && <div role="tabpanel" id="tab-targeting" aria-labelledby="tabbtn-targeting" class="targeting">
      <datalist id={propsList}>{['keyId', 'name', ...props].map((p) => <option key={p} value={p} />)}</datalist>
      <div class="tgt-main">
      <section class="card tight" aria-labelledby="h-settings">
        <h2 id="h-settings" class="sr-only">Settings</h2>
        <div class="row">
          <Field label="Name" value={draft.name} onInput={(v) => upd((d) => { d.name = v; })} err={err} field="name" readOnly={ro} />
          <Field label="Tags" value={draft.tags.join(', ')} readOnly={ro} err={err} field="tags"
            onInput={(v) => upd((d) => { d.tags = v.split(',').map((t) => t.trim()).filter(Boolean); })} />
          <Field label="Description" value={draft.description} onInput={(v) => upd((d) => { d.description = v; })} err={err} field="description" readOnly={ro} textarea rows={1} class="grow" />
        </div>
      </section>

      <section class="card tight" aria-labelledby="h-vars">
        <h2 id="h-vars">Variations</h2>
        {draft.variations.map((v, i) => (
          <div class="row vrow" key={v.id || i}>
            <i class={'dot c' + (i % 8)} aria-hidden="true" />
            <Field label={`Variation ${i + 1} name`} value={v.name} readOnly={ro} err={err} field={`variations[${i}].name`}
              onInput={(x) => upd((d) => { d.variations[i].name = x; })} placeholder="name" />
            <Field label={`Variation ${i + 1} value`} value={v.value} readOnly={ro || draft.variationType === 'boolean'} err={err} field={`variations[${i}].value`}
              onInput={(x) => upd((d) => { d.variations[i].value = x; })} class="grow" placeholder="value" />
            {!ro && draft.variationType !== 'boolean' && <button type="button" class="small icon danger" aria-label={`Remove variation ${i + 1}`}
              disabled={draft.variations.length <= 1} onClick={() => upd((d) => { d.variations.splice(i, 1); })}>✕</button>}
          </div>
        ))}
        <FieldError id="vars-err" msg={errorFor(err, 'variations')} />
        <div class="row">
          <Select label="Variation served when the flag is off" value={draft.disabledVariationId} options={varOpts} disabled={ro}
            err={err} field="disabledVariationId" onChange={(v) => upd((d) => { d.disabledVariationId = v; })} />
          {!ro && draft.variationType !== 'boolean' && <button type="button" class="small add-var" onClick={() => upd((d) => {
            d.variations.push({ id: 'v' + Date.now().toString(36), name: '', value: '' });
          })}>Add variation</button>}
        </div>
      </section>

      <section class="card tight" aria-labelledby="h-targets">
        <h2 id="h-targets">Individual targeting</h2>
        <div class="targets-grid">
        {draft.variations.map((v, i) => {
          const t = draft.targetUsers.findIndex((x) => x.variationId === v.id);
          const keys = t >= 0 ? draft.targetUsers[t].keyIds : [];
          return <Targets key={v.id} label={`Users who get ${v.name || v.value}`} keys={keys} ro={ro}
            err={t >= 0 ? errorFor(err, `targetUsers[${t}]`, true) : ''}
            onChange={(ks) => upd((d) => {
              const j = d.targetUsers.findIndex((x) => x.variationId === v.id);
              if (j >= 0) d.targetUsers[j].keyIds = ks; else d.targetUsers.push({ variationId: v.id, keyIds: ks });
              d.targetUsers = d.targetUsers.filter((x) => x.keyIds.length > 0);
            })} index={i} />;
        })}
        </div>
        <ExperimentTargets flag={draft} ro={ro} onChange={(v) => upd((d) => { d.exptIncludeAllTargets = v; })} />
        <p class="hint">Listed keys (separated by commas or new lines) get the variation before any rule is checked.</p>
      </section>

      <section class="card tight" aria-labelledby="h-rules">
        <h2 id="h-rules">Rules</h2>
        <p class="hint">Checked in order; the first rule whose conditions all match serves. Drag a card by its grip or use ↑ ↓ to reorder; click a card to edit it.</p>
        {draft.rules.length === 0 && <p class="muted">No rules.</p>}
        <ol class="rules">
          {draft.rules.map((r, i) => (
            <li key={r.id || 'n' + i}>
              <RuleCard rule={r} index={i} count={draft.rules.length} hit={!dirty && hit === i} flag={draft} segments={segments} ro={ro} err={err} propsList={propsList}
                open={!!openRules[ruleKey(r, i)] || !!errorFor(err, `rules[${i}]`, true)} setOpen={(o) => setOpenRules({ ...openRules, [ruleKey(r, i)]: o })}
                onChange={(nr) => upd((d) => { d.rules[i] = nr; })}
                onMove={(delta) => moveRule(i, i + delta)} onDropFrom={(from) => moveRule(from, i)}
                onRemove={() => { upd((d) => { d.rules.splice(i, 1); }); setOpenRules(remapOpen(draft.rules, openRules, (rs) => { rs.splice(i, 1); })); }}
                extra={<ExperimentTraffic label={`Rule ${i + 1}`} flag={draft} inExpt={r.includedInExpt} value={r.variations} ro={ro}
                  onChange={(vs, inc) => upd((d) => { d.rules[i] = { ...d.rules[i], variations: vs, includedInExpt: inc }; })} />} />
            </li>
          ))}
        </ol>
        {!ro && <button type="button" class="small" onClick={() => {
          setOpenRules({ ...openRules, ['#' + draft.rules.length]: true });
          upd((d) => {
            const on = d.variations[0]?.id || '';
            d.rules.push({ name: '', dispatchKey: '', includedInExpt: exptFlags.has(d.id) || d.fallthrough.includedInExpt, conditions: [{ property: '', op: 'Equal', value: '' }],
              variations: [{ id: on, rollout: [0, 1], exptRollout: 1 }] } as Rule);
          });
        }}>Add rule</button>}
        <h2 id="h-default" class="sr-only">Default rule</h2>
        <DefaultCard flag={draft} ro={ro} err={err} hit={!dirty && hit === -2}
          onChange={(vs, dk) => upd((d) => { d.fallthrough.variations = vs; d.fallthrough.dispatchKey = dk; })}
          extra={<ExperimentTraffic label="Default rule" flag={draft} inExpt={draft.fallthrough.includedInExpt} value={draft.fallthrough.variations} ro={ro}
            onChange={(vs, inc) => upd((d) => { d.fallthrough.variations = vs; d.fallthrough.includedInExpt = inc; })} />} />
      </section>

      {!ro && <div class={"savebar" + (dirty || err ? " sticky" : "")} role="region" aria-label="Save">
        <FormError err={err} fields={['name', 'tags', 'description', 'variations', 'disabledVariationId', 'targetUsers', 'rules', 'fallthrough']} />
        {err instanceof ApiError && err.status === 409 && err.code !== 'change_request_required' && <button type="button" onClick={() => { setErr(null); load(); }}>Reload the flag</button>}
        <ProposeButton env={env} err={err} kind="flag" itemKey={flag.key} baseVersion={flag.version} proposed={draft} />
        <span role="status" class="saved">{saved || (dirty ? 'Unsaved changes' : '')}</span>
        <button type="button" disabled={!dirty} onClick={() => { setDraft(clone(flag)); setErr(null); setOpenRules({}); }}>Discard changes</button>
        <Busy class="primary" onClick={save} disabled={!dirty} busyText="Saving…">Save changes</Busy>
        {dirty && paths.has(SCHED_ROUTE) && <button type="button" onClick={() => setTab('schedules')}>Schedule instead…</button>}
      </div>}
      </div>

      <aside class="tgt-side" aria-label="Rollout summary and evaluation">
        <WhoGetsWhat flag={draft} segments={segments} />
        <EvaluatePanel env={env} flag={flag} onResult={setHit} />
        {!ro && <ImpactPreview env={env} flagKey={flag.key} proposed={draft} />}
        {canWrite && <CloneCopy env={env} flag={flag} />}
      </aside>
      </div>}
    </Page>
  );
}

const SCHED_ROUTE = '/api/v1/envs/{envId}/flags/{key}/schedules';
const TABS: { id: string; label: string; route?: string }[] = [
  { id: 'targeting', label: 'Targeting' },
  { id: 'history', label: 'History', route: '/api/v1/envs/{envId}/audit' },
  { id: 'triggers', label: 'Triggers', route: '/api/v1/envs/{envId}/flags/{key}/triggers' },
  { id: 'schedules', label: 'Schedules', route: SCHED_ROUTE },
  { id: 'compare', label: 'Compare', route: '/api/v1/envs/{envId}/flags/{key}/compare' },
  { id: 'code', label: 'Code references', route: '/api/v1/projects/{projectId}/code-refs' },
];

// FlagTabs: a tablist (arrow keys move between tabs); the draft stays while
// another tab is shown.
function FlagTabs({ tab, setTab, paths }: { tab: string; setTab: (t: string) => void; paths: Set<string> }) {
  const tabs = TABS.filter((t) => !t.route || paths.has(t.route));
  if (tabs.length < 2) return null;
  const move = (d: number) => {
    const i = (tabs.findIndex((t) => t.id === tab) + d + tabs.length) % tabs.length;
    setTab(tabs[i].id);
    setTimeout(() => document.getElementById('tabbtn-' + tabs[i].id)?.focus());
  };
  return (
    <div class="tabs" role="tablist" aria-label="Flag sections" onKeyDown={(e) => {
      if (e.key === 'ArrowRight') { e.preventDefault(); move(1); } else if (e.key === 'ArrowLeft') { e.preventDefault(); move(-1); }
    }}>
      {tabs.map((t) => (
        <button key={t.id} type="button" role="tab" id={'tabbtn-' + t.id} aria-selected={tab === t.id ? 'true' : 'false'}
          aria-controls={'tab-' + t.id} tabIndex={tab === t.id ? 0 : -1} class={'tab' + (tab === t.id ? ' on' : '')}
          onClick={() => setTab(t.id)}>{t.label}</button>
      ))}
    </div>
  );
}

function Targets({ label, keys, onChange, ro, err, index }: {
  label: string; keys: string[]; onChange: (k: string[]) => void; ro: boolean; err: string; index: number;
}) {
  const id = 'targets-' + index;
  const [text, setText] = useState(keys.join(', '));
  useEffect(() => {
    const parsed = text.split(/[,\n]/).map((x) => x.trim()).filter(Boolean);
    if (parsed.join('\u0000') !== keys.join('\u0000')) setText(keys.join(', '));
  }, [keys.join('\u0000')]);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea id={id} rows={1} value={text} readOnly={ro} onInput={(e) => {
        const t = (e.target as HTMLTextAreaElement).value;
        setText(t);
        onChange(t.split(/[,\n]/).map((x) => x.trim()).filter(Boolean));
      }} />
      <FieldError id={id + '-err'} msg={err} />
    </div>
  );
}

// EvaluatePanel asks the API to evaluate the flag for a user (the edge's
// evaluator, as saved) and shows the explain path: archived / off /
// individually targeted, each rule with its conditions and the user's values,
// segment look-ups, and the percentage dispatch.
const EVAL_ROUTE = '/api/v1/envs/{envId}/flags/{key}/evaluate';

interface CondTrace {
  property: string; op: string; value: string; evaluated: boolean; userValue: string; matched: boolean; error?: string;
  segments?: { id: string; name: string; found: boolean; archived: boolean; matched: boolean; by: string }[];
}
interface RuleTrace { index: number; id: string; name: string; matched: boolean; conditions: CondTrace[] }
interface Explanation {
  flagKey: string; userKeyId: string; archived: boolean; enabled: boolean; targetedBy: number; rules: RuleTrace[];
  dispatch?: { dispatchKey: string; attribute: string; bucket: number; selected: number; sendToExperiment: boolean;
    variations: { id: string; rollout: [number, number]; contains: boolean }[] };
  result: { variation: { id: string; name: string; value: string } | null; kind: string; ruleIndex: number; matchReason: string; sendToExperiment: boolean };
}

const mark = (ok: boolean) => <span class={ok ? 'yes' : 'no'} aria-label={ok ? 'matched' : 'not matched'}>{ok ? '✓' : '✗'}</span>;

function EvaluatePanel({ env, flag, onResult }: { env: Env; flag: Flag; onResult: (rule: number) => void }) {
  const [available, setAvailable] = useState<boolean | null>(null);
  const [keyId, setKeyId] = useState('');
  const [props, setProps] = useState('');
  const [res, setRes] = useState<Explanation | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    request<{ paths?: Record<string, unknown> }>('GET', '/api/openapi.json')
      .then((d) => setAvailable(!!d.paths && EVAL_ROUTE in d.paths)).catch(() => setAvailable(false));
  }, []);
  const vname = (id: string) => { const v = flag.variations.find((x) => x.id === id); return v ? v.name || v.value : id; };
  return (
    <section class="card" aria-labelledby="h-eval">
      <h2 id="h-eval">Evaluate for a user</h2>
      {available === false && <p class="muted">The API has no evaluation route ({EVAL_ROUTE}); this panel turns on when it does.</p>}
      {available && <form aria-label="Evaluate for a user" onSubmit={(e) => e.preventDefault()}>
        <p class="muted">Evaluates the saved flag as SDKs get it.</p>
        <div class="row">
          <Field label="User key" value={keyId} onInput={setKeyId} err={err} field="keyId" />
          <Field label="User properties" value={props} onInput={setProps} class="grow" placeholder="country=FR, plan=pro" />
        </div>
        <Busy type="submit" onClick={async () => {
          setErr(null); setRes(null);
          const customizedProperties = props.split(',').map((p) => p.split('=')).filter((p) => p[0]?.trim())
            .map(([n, ...v]) => ({ name: n.trim(), value: v.join('=').trim() }));
          try {
            const x = await request<Explanation>('POST', `/api/v1/envs/${env.id}/flags/${encodeURIComponent(flag.key)}/evaluate`, { keyId, name: keyId, customizedProperties });
            setRes(x);
            onResult(x.result.kind === 'rule' ? x.result.ruleIndex : x.result.kind === 'fallthrough' ? -2 : -1);
          } catch (e) { setErr(e); onResult(-1); }
        }} busyText="Evaluating…">Evaluate</Busy>
        <FormError err={err} fields={['keyId']} />
      </form>}
      {res && <div class="explain" role="region" aria-label="Evaluation result">
        <p class="verdict"><b>{res.userKeyId}</b> gets <b data-testid="eval-variation">{res.result.variation ? vname(res.result.variation.id) : 'no variation (the SDK default)'}</b>
          {' '}— <span data-testid="eval-reason">{res.result.matchReason}</span>{res.result.sendToExperiment && ' · sent to experiments'}</p>
        <ol class="path">
          <li>{mark(!res.archived)} {res.archived ? 'The flag is archived.' : 'The flag is not archived.'}</li>
          {!res.archived && <li>{mark(res.enabled)} {res.enabled ? 'The flag is on.' : 'The flag is off: it serves the off variation.'}</li>}
          {res.enabled && !res.archived && <li>{mark(res.targetedBy >= 0)} {res.targetedBy >= 0
            ? `Individually targeted (${vname(flag.targetUsers[res.targetedBy]?.variationId || '')}).` : 'Not individually targeted.'}</li>}
          {res.rules.map((r) => (
            <li key={r.id}>{mark(r.matched)} Rule {r.index + 1}{r.name ? ` “${r.name}”` : ''} {r.matched ? 'matched' : 'did not match'}
              <ul>{r.conditions.map((c, i) => (
                <li key={i} class={c.evaluated ? '' : 'muted'}>{c.evaluated ? mark(c.matched) : '·'} {c.segments ? c.property : condText({ property: c.property, op: c.op, value: c.value }, [])}
                  {c.evaluated && !c.segments && <> — user has <code>{c.userValue || '(missing)'}</code></>}
                  {!c.evaluated && ' (not evaluated)'}
                  {c.error && <span class="field-error"> {c.error}</span>}
                  {c.segments && <ul>{c.segments.map((sg) => <li key={sg.id}>{mark(sg.matched)} segment {sg.name || sg.id}: {sg.by}</li>)}</ul>}
                </li>
              ))}</ul>
            </li>
          ))}
          {res.dispatch && <li>Rollout by <code>{res.dispatch.dispatchKey || 'keyId'}</code> = <code>{res.dispatch.attribute}</code>: bucket {(res.dispatch.bucket * 100).toFixed(2)}% →{' '}
            {res.dispatch.selected >= 0 ? vname(res.dispatch.variations[res.dispatch.selected].id) : 'no range'}
            {' '}({res.dispatch.variations.map((v) => `${vname(v.id)} ${(v.rollout[0] * 100).toFixed(0)}–${(v.rollout[1] * 100).toFixed(0)}%`).join(', ')})</li>}
        </ol>
        <details><summary>Raw explanation</summary><pre class="snippet">{JSON.stringify(res, null, 2)}</pre></details>
      </div>}
    </section>
  );
}

// CloneCopy clones the flag under a new key in this environment, or copies it
// to another environment of the project (overwriting only when confirmed).
function CloneCopy({ env, flag }: { env: Env; flag: Flag }) {
  const s = useSession();
  const [key, setKey] = useState(flag.key + '-copy');
  const [target, setTarget] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [copyErr, setCopyErr] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const others = s.envs.filter((e) => e.id !== env.id);
  return (
    <section class="card" aria-labelledby="h-clone">
      <h2 id="h-clone">Clone or copy</h2>
      <div class="row">
        <Field label="Key of the clone" value={key} onInput={setKey} err={err} field="key" />
        <Busy onClick={async () => {
          setErr(null);
          try { const nf = await api.cloneFlag(env.id, flag.key, key, ''); navigate(`/envs/${env.id}/flags/${encodeURIComponent(nf.key)}`); }
          catch (e) { setErr(e); }
        }} busyText="Cloning…">Clone flag</Busy>
      </div>
      <FormError err={err} fields={['key']} />
      {others.length > 0 && <div class="row">
        <Select label="Copy to environment" value={target} err={copyErr} field="targetEnvId" onChange={setTarget}
          options={[{ value: '', label: 'choose…' }, ...others.map((e) => ({ value: e.id, label: e.name }))]} />
        <Busy disabled={!target} onClick={async () => {
          setCopyErr(null); setDone('');
          const name = others.find((e) => e.id === target)?.name;
          try {
            await api.copyFlag(env.id, flag.key, target, false, 0);
            setDone(`Copied to ${name} (off there).`);
          } catch (e) {
            if (e instanceof ApiError && e.code === 'duplicate' && confirm(`${name} has a flag ${flag.key}. Overwrite it?`)) {
              try {
                const cur = await api.flag(target, flag.key);
                await api.copyFlag(env.id, flag.key, target, true, cur.version);
                setDone(`Overwrote ${flag.key} in ${name}.`);
              } catch (e2) { setCopyErr(e2); }
            } else setCopyErr(e);
          }
        }} busyText="Copying…">Copy flag</Busy>
        <span role="status" class="saved">{done}</span>
      </div>}
      <FormError err={copyErr} fields={['targetEnvId']} />
    </section>
  );
}
