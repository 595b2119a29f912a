// pages/flagcompare.tsx: compare the flag with another environment and copy parts across.
import { useState } from 'preact/hooks';
import { api, Env, Flag, FlagCompare } from '../api';
import { Busy, FormError, Select, useSession } from '../ui';
import { useCan } from '../perm';

const PARTS: Record<string, string> = {
  variations: 'Variations', targeting: 'Individual targeting', rules: 'Rules', defaultRule: 'Default rule', onOff: 'On/off',
};
const show = (v: unknown) => (v === undefined || v === null ? '(none)' : typeof v === 'boolean' ? (v ? 'on' : 'off') : JSON.stringify(v, null, 2));

export function Compare({ env, flag }: { env: Env; flag: Flag }) {
  const s = useSession();
  const others = s.envs.filter((e) => e.id !== env.id);
  const [target, setTarget] = useState(others[0]?.id || '');
  const tcan = useCan(target ? { env: target } : null); // copies write into the target
  const [res, setRes] = useState<FlagCompare | null>(null);
  const [pick, setPick] = useState<string[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const tname = others.find((e) => e.id === target)?.name || '';
  const compare = async () => {
    setErr(null);
    try { const r = await api.compareFlag(env.id, flag.key, target); setRes(r); setPick((r.parts || []).map((p) => p.part)); }
    catch (e) { setErr(e); setRes(null); }
  };
  if (others.length === 0) return null;
  return (
    <section class="card" aria-labelledby="h-compare">
      <h2 id="h-compare">Compare with another environment</h2>
      <div class="row">
        <Select label="Compare with environment" value={target} onChange={(v) => { setTarget(v); setRes(null); setDone(''); }} err={err} field="targetEnvId"
          options={others.map((e) => ({ value: e.id, label: e.name }))} />
        <Busy onClick={() => { setDone(''); return compare(); }} busyText="Comparing…">Compare</Busy>
      </div>
      <FormError err={err} fields={['targetEnvId']} />
      {res && <div role="region" aria-label="Comparison">
        <p data-testid="compare-status">{
          res.status === 'same' ? `Same in ${env.name} and ${tname}.`
            : res.status === 'onlyInSource' ? `${tname} has no flag ${flag.key}; use “Copy flag” below.`
              : res.status === 'onlyInTarget' ? `Only ${tname} has ${flag.key}.`
                : `${(res.parts || []).length} ${(res.parts || []).length === 1 ? 'part differs' : 'parts differ'} between ${env.name} and ${tname}.`}</p>
        {(res.parts || []).length > 0 && <table class="list diff">
          <thead><tr><th>Part</th><th>{env.name} (this environment)</th><th>{tname}</th></tr></thead>
          <tbody>{(res.parts || []).map((p) => (
            <tr key={p.part} aria-label={`Difference in ${PARTS[p.part] || p.part}`}>
              <td>{tcan('flag:write')
                ? <label class="check"><input type="checkbox" checked={pick.includes(p.part)}
                  onChange={(e) => setPick((e.target as HTMLInputElement).checked ? [...pick, p.part] : pick.filter((x) => x !== p.part))} /> {PARTS[p.part] || p.part}</label>
                : PARTS[p.part] || p.part}</td>
              <td><pre class="snippet">{show(p.source)}</pre></td>
              <td><pre class="snippet">{show(p.target)}</pre></td>
            </tr>
          ))}</tbody>
        </table>}
        {tcan.ready && !tcan('flag:write') && res.status === 'different' && <p class="hint why" role="note">Copying to {tname}: {tcan.why('flag:write')}</p>}
        {tcan('flag:write') && res.status === 'different' && <Busy class="primary" disabled={pick.length === 0} onClick={async () => {
          setErr(null); setDone('');
          try {
            const cur = await api.flag(target, flag.key);
            await api.copyParts(env.id, flag.key, target, pick, cur.version);
            setDone(`Copied ${pick.map((p) => PARTS[p] || p).join(', ')} to ${tname}.`);
            await compare();
          } catch (e) { setErr(e); }
        }} busyText="Copying…">Copy selected parts to {tname}</Busy>}
        <span role="status" class="saved">{done}</span>
      </div>}
    </section>
  );
}
