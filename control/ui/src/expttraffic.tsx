// expttraffic.tsx: a rule's (or the default rule's) experiment traffic —
// includedInExpt and each served variation's exptRollout — and the flag's
// exptIncludeAllTargets, rendered by the flag's rule editor. A rule out of
// the experiment while one runs on the flag is called out: its users never
// produce an exposure.
import { useEffect, useState } from 'preact/hooks';
import { api, Flag, RolloutVariation } from './api';
import { useId } from './ui';

const cache = new Map<string, { at: number; p: Promise<Set<string>> }>();

// runningExperimentFlags resolves to the ids of the flags of env with a
// running experiment (cached for 10 s per environment).
export function runningExperimentFlags(env: string, fresh = false): Promise<Set<string>> {
  const c = cache.get(env);
  if (c && !fresh && Date.now() - c.at < 10_000) return c.p;
  const p = api.experiments(env).then((r) => new Set(r.items.filter((x) => x.status === 'running').map((x) => x.flagId))).catch(() => new Set<string>());
  cache.set(env, { at: Date.now(), p });
  return p;
}

export function useRunningExperimentFlags(env: string): Set<string> {
  const [s, setS] = useState<Set<string>>(new Set());
  useEffect(() => { runningExperimentFlags(env).then(setS); }, [env]);
  return s;
}

const pctOf = (x: number) => Math.round((x ?? 1) * 10000) / 100;

export function ExperimentTraffic({ label, flag, inExpt, value, ro, onChange }: {
  label: string; flag: Flag; inExpt: boolean; value: RolloutVariation[]; ro: boolean;
  onChange: (vs: RolloutVariation[], inExpt: boolean) => void;
}) {
  const id = useId('expt');
  const running = useRunningExperimentFlags(flag.envId).has(flag.id);
  const served = value.filter((v) => v.rollout[1] - v.rollout[0] > 0);
  const name = (vid: string) => { const v = flag.variations.find((x) => x.id === vid); return v ? v.name || v.value : vid; };
  return (
    <div class="expt-traffic" role="group" aria-label={`${label} experiment traffic`}>
      <label class="check" for={id}>
        <input id={id} type="checkbox" checked={inExpt} disabled={ro}
          onChange={(e) => {
            const on = (e.target as HTMLInputElement).checked;
            // a share of 0 sends nobody: turning the traffic on starts every served variation at 100 %
            onChange(on ? value.map((v) => (v.exptRollout > 0 ? v : { ...v, exptRollout: 1 })) : value, on);
          }} /> {label}: send users to experiments
      </label>
      {running && !inExpt && <p class="notice" role="note">An experiment is running on this flag: users served by {label.toLowerCase()} are not in it and produce no exposures.</p>}
      {inExpt && served.length > 0 && <div class="split">
        {served.map((v) => (
          <div class="field pct" key={v.id}>
            <label for={`${id}-${v.id}`}>{label} % of {name(v.id)} users in the experiment</label>
            <input id={`${id}-${v.id}`} type="number" min={0} max={100} step="any" readOnly={ro} value={String(pctOf(v.exptRollout))}
              onInput={(e) => {
                const n = parseFloat((e.target as HTMLInputElement).value);
                const x = isNaN(n) ? 0 : Math.max(0, Math.min(100, n)) / 100;
                onChange(value.map((y) => (y.id === v.id ? { ...y, exptRollout: x } : y)), inExpt);
              }} />
          </div>
        ))}
      </div>}
    </div>
  );
}

export function ExperimentTargets({ flag, ro, onChange }: { flag: Flag; ro: boolean; onChange: (v: boolean) => void }) {
  const id = useId('expt-all');
  return (
    <label class="check" for={id}>
      <input id={id} type="checkbox" checked={flag.exptIncludeAllTargets} disabled={ro}
        onChange={(e) => onChange((e.target as HTMLInputElement).checked)} /> Send individually targeted users to experiments too
    </label>
  );
}
