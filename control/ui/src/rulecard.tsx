// rulecard.tsx: the compact targeting editor of a flag. Each rule is a card
// that reads as a sentence ("if country is one of fr, de and plan equals pro
// → serve beta 50 % / control 50 %"); a click (or its Edit button) opens the
// condition and serve editors in place. Cards reorder by drag (the grip) or
// by the keyboard (Move up / Move down). RolloutBar and WhoGetsWhat show who
// gets what, live from the draft.
//
// Slot for other editors: RuleCard and DefaultCard render their `extra`
// prop inside the open editor, under the serve editor (e.g. the experiment
// traffic controls of a rule).
import { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { Condition, Flag, RolloutVariation, Rule, Segment, Variation } from './api';
import { ConditionRow, IN_SEGMENT, isSegmentCond, isSplit, OPERATORS, percents, ServeEditor } from './rules';
import { errorFor, Field, FieldError } from './ui';
import './target.css';

const OP_LABEL = new Map(OPERATORS);
const LIST_OPS = new Set(['IsOneOf', 'NotOneOf']);
const NO_VALUE_OPS = new Set(['IsTrue', 'IsFalse']);

const vlabel = (v?: Variation) => (v ? v.name || v.value : '?');

function listOf(v: string): string[] {
  try { const a = JSON.parse(v); if (Array.isArray(a)) return a.map(String); } catch { /* plain text */ }
  return v ? [v] : [];
}

// condText reads one condition as words.
export function condText(c: Condition, segments: Segment[]): string {
  if (isSegmentCond(c)) {
    const names = listOf(c.value).map((id) => segments.find((s) => s.id === id)?.name || id);
    return `user ${c.property === IN_SEGMENT ? 'is in' : 'is not in'} segment ${names.join(' or ') || '(none)'}`;
  }
  const prop = c.property || '(property)';
  const op = OP_LABEL.get(c.op) || c.op || '(operator)';
  if (NO_VALUE_OPS.has(c.op)) return `${prop} ${op}`;
  if (LIST_OPS.has(c.op)) return `${prop} ${op} ${listOf(c.value).join(', ') || '(nothing)'}`;
  return `${prop} ${op} ${c.value || '(empty)'}`;
}

// serveText reads what a rule serves: one variation or the split.
export function serveText(vs: RolloutVariation[], variations: Variation[]): string {
  if (vs.length === 0) return 'serve (nothing chosen)';
  if (!isSplit(vs)) return 'serve ' + vlabel(variations.find((v) => v.id === vs[0].id));
  const pct = percents(vs);
  return 'serve ' + variations.filter((v) => (pct[v.id] || 0) > 0).map((v) => `${vlabel(v)} ${pct[v.id]} %`).join(' / ');
}

export function ruleSentence(r: Rule, variations: Variation[], segments: Segment[]): string {
  const when = r.conditions.length ? 'if ' + r.conditions.map((c) => condText(c, segments)).join(' and ') : 'everyone';
  return `${when} → ${serveText(r.variations, variations)}${r.includedInExpt ? ' · in experiments' : ''}`;
}

// shares: the percentage each variation gets from a serve (in variation order).
export function shares(vs: RolloutVariation[], variations: Variation[]): { v: Variation; i: number; pct: number }[] {
  const pct = isSplit(vs) ? percents(vs) : vs[0] ? { [vs[0].id]: 100 } : {};
  return variations.map((v, i) => ({ v, i, pct: pct[v.id] || 0 }));
}

// RolloutBar: one bar, a coloured part per variation.
export function RolloutBar({ label, vs, variations }: { label: string; vs: RolloutVariation[]; variations: Variation[] }) {
  const parts = shares(vs, variations).filter((s) => s.pct > 0);
  const text = parts.map((s) => `${vlabel(s.v)} ${s.pct} %`).join(', ') || 'nothing';
  return (
    <div class="rbar" role="img" aria-label={`${label}: ${text}`} title={text}>
      {parts.map((s) => <span key={s.v.id} class={'rbar-part c' + (s.i % 8)} style={{ width: s.pct + '%' }}>{s.pct >= 12 ? `${vlabel(s.v)} ${s.pct}%` : ''}</span>)}
    </div>
  );
}

// WhoGetsWhat: the live summary of the draft, in evaluation order.
export function WhoGetsWhat({ flag, segments }: { flag: Flag; segments: Segment[] }) {
  const off = flag.variations.find((v) => v.id === flag.disabledVariationId);
  const targeted = flag.targetUsers.reduce((a, t) => a + t.keyIds.length, 0);
  return (
    <section class="card whocard" aria-labelledby="h-who">
      <h2 id="h-who">Who gets what</h2>
      <ul class="who-list">
        {!flag.isEnabled && <li><span class="who-label">Flag is off: everyone gets</span> <b>{vlabel(off)}</b></li>}
        {targeted > 0 && <li><span class="who-label">{targeted} individually targeted user{targeted === 1 ? '' : 's'}</span> {flag.targetUsers.map((t) => <span key={t.variationId} class="badge">{t.keyIds.length} → {vlabel(flag.variations.find((v) => v.id === t.variationId))}</span>)}</li>}
        {flag.rules.map((r, i) => (
          <li key={r.id || 'n' + i}>
            <span class="who-label" title={ruleSentence(r, flag.variations, segments)}>Rule {i + 1}{r.name ? ` “${r.name}”` : ''}</span>
            <RolloutBar label={`Who gets what: rule ${i + 1}`} vs={r.variations} variations={flag.variations} />
          </li>
        ))}
        <li>
          <span class="who-label">Everyone else (default rule)</span>
          <RolloutBar label="Who gets what: default rule" vs={flag.fallthrough.variations} variations={flag.variations} />
        </li>
      </ul>
      <div class="legend">{flag.variations.map((v, i) => <span key={v.id}><i class={'dot c' + (i % 8)} aria-hidden="true" />{vlabel(v)}</span>)}</div>
    </section>
  );
}

export function RuleCard({ rule, index, count, hit, flag, segments, ro, err, propsList, open, setOpen, onChange, onMove, onRemove, onDropFrom, extra }: {
  rule: Rule; index: number; hit?: boolean; count: number; flag: Flag; segments: Segment[]; ro: boolean; err: unknown; propsList: string;
  open: boolean; setOpen: (o: boolean) => void;
  onChange: (r: Rule) => void; onMove: (delta: number) => void; onRemove: () => void;
  onDropFrom: (from: number) => void; extra?: ComponentChildren;
}) {
  const n = index + 1;
  const field = `rules[${index}]`;
  const [over, setOver] = useState(false);
  const hasErr = !!errorFor(err, field, true);
  const setCond = (j: number, c: Condition) => onChange({ ...rule, conditions: rule.conditions.map((x, k) => (k === j ? c : x)) });
  const sentence = ruleSentence(rule, flag.variations, segments);
  // keyboard moves: the focus follows the rule to its new place
  const move = (d: number) => {
    onMove(d);
    const m = n + d;
    setTimeout(() => {
      const q = (dir: string) => document.querySelector<HTMLButtonElement>(`button[aria-label="Move rule ${m} ${dir}"]`);
      const same = q(d < 0 ? 'up' : 'down');
      (same && !same.disabled ? same : q(d < 0 ? 'down' : 'up'))?.focus();
    });
  };
  return (
    <div class={'rcard' + (over ? ' over' : '') + (open ? ' open' : '') + (hasErr ? ' bad' : '') + (hit ? ' hit' : '')} role="group" aria-label={`Rule ${n}`}
      data-testid={`rule-card-${n}`}
      onDragOver={(e) => { if (!ro && e.dataTransfer?.types.includes('text/x-sy-rule')) { e.preventDefault(); setOver(true); } }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        setOver(false);
        const from = Number(e.dataTransfer?.getData('text/x-sy-rule'));
        if (ro || !e.dataTransfer?.types.includes('text/x-sy-rule') || isNaN(from)) return;
        e.preventDefault();
        if (from !== index) onDropFrom(from);
      }}>
      <div class="rcard-head">
        {!ro && <span class="grip" draggable title="Drag to reorder" aria-hidden="true" data-testid={`rule-grip-${n}`}
          onDragStart={(e) => { e.dataTransfer?.setData('text/x-sy-rule', String(index)); if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move'; }}>⠿</span>}
        <span class="rnum">{n}</span>{hit && <span class="badge ok">matched</span>}
        <div class="rsentence" data-testid={`rule-sentence-${n}`} onClick={() => { if (!open) setOpen(true); }}>
          {rule.name && <b class="rname">{rule.name}: </b>}{sentence}
        </div>
        <div class="rbtns">
          <button type="button" class="small" aria-expanded={open ? 'true' : 'false'} aria-label={`${ro ? 'Details of' : 'Edit'} rule ${n}`}
            onClick={() => setOpen(!open)}>{open ? 'Done' : ro ? 'Details' : 'Edit'}</button>
          {!ro && <>
            <button type="button" class="small icon" aria-label={`Move rule ${n} up`} disabled={index === 0} onClick={() => move(-1)}>↑</button>
            <button type="button" class="small icon" aria-label={`Move rule ${n} down`} disabled={index === count - 1} onClick={() => move(1)}>↓</button>
            <button type="button" class="small icon danger" aria-label={`Remove rule ${n}`} onClick={onRemove}>✕</button>
          </>}
        </div>
      </div>
      {!open && <RolloutBar label={`Split of rule ${n}`} vs={rule.variations} variations={flag.variations} />}
      {open && <div class="rcard-edit">
        <Field label={`Rule ${n} name`} value={rule.name} readOnly={ro} err={err} field={field + '.name'}
          onInput={(v) => onChange({ ...rule, name: v })} />
        <div class="conditions">
          {rule.conditions.map((c, j) => (
            <ConditionRow key={c.id || j} c={c} label={`Rule ${n} condition ${j + 1}`} segments={segments} ro={ro} err={err}
              field={`${field}.conditions[${j}]`} propsList={propsList} allowSegments
              onChange={(nc) => setCond(j, nc)} onRemove={() => onChange({ ...rule, conditions: rule.conditions.filter((_, k) => k !== j) })} />
          ))}
          {rule.conditions.length === 0 && <p class="muted">No conditions: the rule matches every user.</p>}
          {!ro && <button type="button" class="small" aria-label={`Add condition to rule ${n}`}
            onClick={() => onChange({ ...rule, conditions: [...rule.conditions, { property: '', op: 'Equal', value: '' }] })}>Add condition</button>}
          <FieldError id={`rule-${n}-cond-err`} msg={errorFor(err, field + '.conditions')} />
        </div>
        <ServeEditor label={`Rule ${n}`} variations={flag.variations} value={rule.variations} dispatchKey={rule.dispatchKey} ro={ro}
          err={err} field={field} onChange={(vs, dk) => onChange({ ...rule, variations: vs, dispatchKey: dk })} />
        <RolloutBar label={`Split of rule ${n}`} vs={rule.variations} variations={flag.variations} />
        {extra && <div class="rcard-extra">{extra}</div>}
      </div>}
      <FieldError id={`rule-${n}-err`} msg={errorFor(err, field + '.id')} />
    </div>
  );
}

// DefaultCard: the default rule (fallthrough) as a card.
export function DefaultCard({ flag, ro, err, hit, onChange, extra }: {
  flag: Flag; ro: boolean; hit?: boolean; err: unknown; onChange: (vs: RolloutVariation[], dk: string) => void; extra?: ComponentChildren;
}) {
  const hasErr = !!errorFor(err, 'fallthrough', true);
  const [open, setOpen] = useState(false);
  const show = open || hasErr;
  return (
    <div class={'rcard default' + (show ? ' open' : '') + (hasErr ? ' bad' : '') + (hit ? ' hit' : '')} role="group" aria-label="Default rule">
      <div class="rcard-head">
        <span class="rnum">∗</span>{hit && <span class="badge ok">matched</span>}
        <div class="rsentence" data-testid="default-sentence" onClick={() => setOpen(true)}>
          <b class="rname">Default rule: </b>everyone else → {serveText(flag.fallthrough.variations, flag.variations)}{flag.fallthrough.includedInExpt ? ' · in experiments' : ''}
        </div>
        <div class="rbtns">
          <button type="button" class="small" aria-expanded={show ? 'true' : 'false'} aria-label={`${ro ? 'Details of' : 'Edit'} the default rule`}
            onClick={() => setOpen(!show)}>{show ? 'Done' : ro ? 'Details' : 'Edit'}</button>
        </div>
      </div>
      {!show && <RolloutBar label="Split of the default rule" vs={flag.fallthrough.variations} variations={flag.variations} />}
      {show && <div class="rcard-edit">
        <ServeEditor label="Default rule" variations={flag.variations} value={flag.fallthrough.variations}
          dispatchKey={flag.fallthrough.dispatchKey} ro={ro} err={err} field="fallthrough" onChange={onChange} />
        <RolloutBar label="Split of the default rule" vs={flag.fallthrough.variations} variations={flag.variations} />
        {extra && <div class="rcard-extra">{extra}</div>}
      </div>}
    </div>
  );
}
