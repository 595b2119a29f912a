// rules.tsx: the condition editor (every operator, segment conditions) and
// the serve editor (one variation or a percentage split with a live sum
// check), shared by flag rules, the default rule and segment rules.
import { useEffect, useState } from 'preact/hooks';
import { Condition, RolloutVariation, Segment, Variation } from './api';
import { errorFor, FieldError, useId } from './ui';

export const IN_SEGMENT = 'User is in segment';
export const NOT_IN_SEGMENT = 'User is not in segment';

// Operators (the first sixteen are FeatBit's; SemVer and date ones are
// Switchyard's) with their labels.
export const OPERATORS: [string, string][] = [
  ['Equal', 'equals'], ['NotEqual', 'does not equal'],
  ['IsOneOf', 'is one of'], ['NotOneOf', 'is not one of'],
  ['Contains', 'contains'], ['NotContain', 'does not contain'],
  ['StartsWith', 'starts with'], ['EndsWith', 'ends with'],
  ['MatchRegex', 'matches regex'], ['NotMatchRegex', 'does not match regex'],
  ['LessThan', '<'], ['LessEqualThan', '≤'], ['BiggerThan', '>'], ['BiggerEqualThan', '≥'],
  ['IsTrue', 'is true'], ['IsFalse', 'is false'],
  ['SemVerEqual', 'semver ='], ['SemVerNotEqual', 'semver ≠'], ['SemVerLessThan', 'semver <'],
  ['SemVerLessEqualThan', 'semver ≤'], ['SemVerGreaterThan', 'semver >'], ['SemVerGreaterEqualThan', 'semver ≥'],
  ['Before', 'is before (date)'], ['After', 'is after (date)'],
];
const LIST_OPS = new Set(['IsOneOf', 'NotOneOf']);
const NO_VALUE_OPS = new Set(['IsTrue', 'IsFalse']);

export const isSegmentCond = (c: Condition) => c.property === IN_SEGMENT || c.property === NOT_IN_SEGMENT;

function listText(v: string): string {
  try { const a = JSON.parse(v); if (Array.isArray(a)) return a.join(', '); } catch { /* not JSON yet */ }
  return v;
}

export function ConditionRow({ c, label, onChange, onRemove, segments, ro, err, field, propsList, allowSegments }: {
  c: Condition; label: string; onChange: (c: Condition) => void; onRemove: () => void; segments: Segment[];
  ro: boolean; err: unknown; field: string; propsList: string; allowSegments: boolean;
}) {
  const id = useId('cond');
  const seg = isSegmentCond(c);
  const opValue = seg ? (c.property === IN_SEGMENT ? '@in' : '@notin') : c.op;
  const [text, setText] = useState(LIST_OPS.has(c.op) ? listText(c.value) : c.value);
  useEffect(() => { if (!seg) setText(LIST_OPS.has(c.op) ? listText(c.value) : c.value); }, [c.op]);
  const setOp = (v: string) => {
    if (v === '@in' || v === '@notin') {
      const ids = seg ? c.value : '[]';
      onChange({ ...c, property: v === '@in' ? IN_SEGMENT : NOT_IN_SEGMENT, op: '', value: ids });
    } else {
      const property = seg ? '' : c.property;
      let value = seg ? '' : c.value;
      if (LIST_OPS.has(v) && !LIST_OPS.has(c.op)) value = value ? JSON.stringify([value]) : '[]';
      if (!LIST_OPS.has(v) && LIST_OPS.has(c.op)) value = listText(value).split(',')[0]?.trim() || '';
      if (NO_VALUE_OPS.has(v)) value = '';
      onChange({ ...c, property, op: v, value });
    }
  };
  const setValueText = (t: string) => {
    setText(t);
    if (LIST_OPS.has(c.op)) onChange({ ...c, value: JSON.stringify(t.split(',').map((x) => x.trim()).filter(Boolean)) });
    else onChange({ ...c, value: t });
  };
  let selected: string[] = [];
  if (seg) { try { selected = JSON.parse(c.value) || []; } catch { selected = []; } }
  const pErr = errorFor(err, field + '.property'), oErr = errorFor(err, field + '.op'), vErr = errorFor(err, field + '.value');
  return (
    <div class="condition" role="group" aria-label={label}>
      {!seg && <div class="field">
        <label for={id + '-p'}>{label} property</label>
        <input id={id + '-p'} value={c.property} list={propsList} readOnly={ro} placeholder="e.g. country"
          aria-invalid={pErr ? 'true' : undefined} onInput={(e) => onChange({ ...c, property: (e.target as HTMLInputElement).value })} />
        <FieldError id={id + '-pe'} msg={pErr} />
      </div>}
      <div class="field">
        <label for={id + '-o'}>{label} operator</label>
        <select id={id + '-o'} value={opValue} disabled={ro} onChange={(e) => setOp((e.target as HTMLSelectElement).value)}>
          {!opValue && <option value="">choose…</option>}
          {allowSegments && <optgroup label="Segments">
            <option value="@in">is in segment</option>
            <option value="@notin">is not in segment</option>
          </optgroup>}
          <optgroup label="Property">
            {OPERATORS.map(([o, l]) => <option key={o} value={o}>{l}</option>)}
          </optgroup>
        </select>
        <FieldError id={id + '-oe'} msg={oErr} />
      </div>
      {seg ? (
        <div class="field grow">
          <label for={id + '-s'}>{label} segments</label>
          <select id={id + '-s'} multiple disabled={ro} size={Math.min(4, Math.max(2, segments.length))}
            onChange={(e) => {
              const ids = [...(e.target as HTMLSelectElement).selectedOptions].map((o) => o.value);
              onChange({ ...c, value: JSON.stringify(ids) });
            }}>
            {segments.map((s) => <option key={s.id} value={s.id} selected={selected.includes(s.id)}>{s.name}</option>)}
          </select>
          <FieldError id={id + '-se'} msg={vErr} />
        </div>
      ) : !NO_VALUE_OPS.has(c.op) && (
        <div class="field grow">
          <label for={id + '-v'}>{label} value</label>
          <input id={id + '-v'} value={text} readOnly={ro} placeholder={LIST_OPS.has(c.op) ? 'a, b, c' : ''}
            aria-invalid={vErr ? 'true' : undefined} onInput={(e) => setValueText((e.target as HTMLInputElement).value)} />
          <FieldError id={id + '-ve'} msg={vErr} />
        </div>
      )}
      {!ro && <button type="button" class="small danger" aria-label={`Remove ${label.toLowerCase()}`} onClick={onRemove}>✕</button>}
    </div>
  );
}

// ---- serving: one variation or a percentage split ----

const bp = (x: number) => Math.round(x * 10000); // fraction → basis points

// percents reads a split as percentages per variation id.
export function percents(vs: RolloutVariation[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of vs) out[v.id] = bp(v.rollout[1] - v.rollout[0]) / 100;
  return out;
}

// rollout turns percentages (in variation order) into contiguous ranges; a
// sum other than 100 is kept as is so that the server can refuse it.
export function rolloutFrom(variations: Variation[], pct: Record<string, number>, prev: RolloutVariation[]): RolloutVariation[] {
  let cum = 0;
  return variations.map((v) => {
    const w = Math.round((pct[v.id] || 0) * 100);
    const lo = cum / 10000;
    cum += w;
    const expt = prev.find((p) => p.id === v.id)?.exptRollout ?? 1;
    return { id: v.id, rollout: [lo, cum / 10000] as [number, number], exptRollout: expt };
  });
}

export const isSplit = (vs: RolloutVariation[]) => vs.length > 1 || (vs.length === 1 && bp(vs[0].rollout[1] - vs[0].rollout[0]) !== 10000);

export function ServeEditor({ label, variations, value, dispatchKey, onChange, ro, err, field }: {
  label: string; variations: Variation[]; value: RolloutVariation[]; dispatchKey: string;
  onChange: (vs: RolloutVariation[], dispatchKey: string) => void; ro: boolean; err: unknown; field: string;
}) {
  const id = useId('serve');
  const split = isSplit(value);
  const mode = split ? '@split' : value[0]?.id || '';
  const pct = percents(value);
  const sum = Math.round(variations.reduce((a, v) => a + (pct[v.id] || 0), 0) * 100) / 100;
  const msg = errorFor(err, field + '.variations', true) || errorFor(err, field + '.dispatchKey');
  const setMode = (m: string) => {
    if (m === '@split') {
      const first = value[0]?.id || variations[0]?.id;
      onChange(rolloutFrom(variations, { [first]: 100 }, value), dispatchKey);
    } else onChange([{ id: m, rollout: [0, 1], exptRollout: value.find((x) => x.id === m)?.exptRollout ?? 1 }], dispatchKey);
  };
  return (
    <div class="serve" role="group" aria-label={`${label} serve`}>
      <div class="field">
        <label for={id + '-m'}>{label} serves</label>
        <select id={id + '-m'} value={mode} disabled={ro} onChange={(e) => setMode((e.target as HTMLSelectElement).value)}>
          {!mode && <option value="">choose…</option>}
          {variations.map((v) => <option key={v.id} value={v.id}>{v.name || v.value}</option>)}
          <option value="@split">a percentage rollout</option>
        </select>
      </div>
      {split && (
        <div class="split">
          {variations.map((v) => (
            <div class="field pct" key={v.id}>
              <label for={`${id}-${v.id}`}>{label} % {v.name || v.value}</label>
              <input id={`${id}-${v.id}`} type="number" min={0} max={100} step="any" readOnly={ro}
                value={String(pct[v.id] || 0)}
                onInput={(e) => {
                  const n = parseFloat((e.target as HTMLInputElement).value);
                  onChange(rolloutFrom(variations, { ...pct, [v.id]: isNaN(n) ? 0 : n }, value), dispatchKey);
                }} />
            </div>
          ))}
          <div class={'sum ' + (sum === 100 ? 'ok' : 'bad')} role="status" aria-live="polite" aria-label={`${label} rollout total`}>
            Total {sum}%{sum !== 100 && ' — must be 100%'}
          </div>
          <div class="field">
            <label for={id + '-dk'}>{label} dispatch key</label>
            <input id={id + '-dk'} value={dispatchKey} readOnly={ro} placeholder="keyId"
              onInput={(e) => onChange(value, (e.target as HTMLInputElement).value)} />
            <div class="hint">The user attribute that buckets users (default: key).</div>
          </div>
        </div>
      )}
      <FieldError id={id + '-err'} msg={msg} />
    </div>
  );
}
