// pages/envcompare.tsx: this environment's flags against another
// environment of the project (same, different with the differing parts, only
// here, only there) and "copy flags to environment" for the ones chosen
// (missing ones are created off; existing ones only with "overwrite", which
// keeps their on/off state).
import { useState } from 'preact/hooks';
import { api, Env, FlagCompare } from '../api';
import { Busy, FormError, Page, Select, useSession } from '../ui';
import { useCan } from '../perm';

const PARTS: Record<string, string> = {
  variations: 'variations', targeting: 'individual targeting', rules: 'rules', defaultRule: 'default rule', onOff: 'on/off',
};

export function EnvCompare({ env }: { env: Env }) {
  const s = useSession();
  const others = s.envs.filter((e) => e.id !== env.id);
  const [target, setTarget] = useState(others[0]?.id || '');
  const tcan = useCan(target ? { env: target } : null); // copies write into the target
  const [items, setItems] = useState<FlagCompare[] | null>(null);
  const [pick, setPick] = useState<string[]>([]);
  const [overwrite, setOverwrite] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const tname = others.find((e) => e.id === target)?.name || '';
  const compare = async () => {
    setErr(null);
    try { const r = await api.compareEnvs(env.id, target); setItems(r.items || []); setPick([]); } catch (e) { setErr(e); setItems(null); }
  };
  const status = (x: FlagCompare) => x.status === 'same' ? 'same'
    : x.status === 'onlyInSource' ? `only in ${env.name}`
      : x.status === 'onlyInTarget' ? `only in ${tname}`
        : 'differs: ' + (x.parts || []).map((p) => PARTS[p.part] || p.part).join(', ');
  if (others.length === 0) return <Page title="Compare environments"><p class="muted">The project has one environment.</p></Page>;
  return (
    <Page title="Compare environments">
      <div class="filters">
        <Select label="Compare with environment" value={target} onChange={(v) => { setTarget(v); setItems(null); setDone(''); }} err={err} field="targetEnvId"
          options={others.map((e) => ({ value: e.id, label: e.name }))} />
        <Busy onClick={() => { setDone(''); return compare(); }} busyText="Comparing…">Compare environments</Busy>
      </div>
      <FormError err={err} fields={['targetEnvId']} />
      {items && <>
        <p class="muted" data-testid="env-compare-summary">{items.filter((x) => x.status !== 'same').length} of {items.length} flags differ between {env.name} and {tname}.</p>
        <table class="list" aria-label="Flags compared">
          <thead><tr>{tcan('flag:write') && <th><span class="sr-only">Choose</span></th>}<th>Flag</th><th>{env.name} → {tname}</th></tr></thead>
          <tbody>{items.map((x) => (
            <tr key={x.key} aria-label={`Flag ${x.key}: ${status(x)}`}>
              {tcan('flag:write') && <td>{x.status !== 'same' && x.status !== 'onlyInTarget' &&
                <input type="checkbox" aria-label={`Copy ${x.key}`} checked={pick.includes(x.key)}
                  onChange={(e) => setPick((e.target as HTMLInputElement).checked ? [...pick, x.key] : pick.filter((k) => k !== x.key))} />}</td>}
              <td>{x.status === 'onlyInTarget' ? <span class="mono">{x.key}</span>
                : <a href={`/envs/${env.id}/flags/${encodeURIComponent(x.key)}`} class="mono">{x.key}</a>}</td>
              <td><span class={'badge ' + (x.status === 'same' ? 'ok' : '')}>{status(x)}</span></td>
            </tr>
          ))}</tbody>
        </table>
        {tcan.ready && !tcan('flag:write') && <p class="hint why" role="note">Copying to {tname}: {tcan.why('flag:write')}</p>}
        {tcan('flag:write') && <div class="row">
          <label class="check"><input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite((e.target as HTMLInputElement).checked)} />
            Overwrite flags that exist in {tname} (their on/off state stays)</label>
          <Busy class="primary" disabled={pick.length === 0} onClick={async () => {
            setErr(null); setDone('');
            try {
              const r = await api.copyFlags(env.id, target, pick, overwrite);
              setDone(r.items.map((x) => `${x.key}: ${x.result}`).join(', '));
              await compare();
            } catch (e) { setErr(e); }
          }} busyText="Copying…">Copy {pick.length || ''} flag{pick.length === 1 ? '' : 's'} to {tname}</Busy>
          <span role="status" class="saved">{done}</span>
        </div>}
      </>}
    </Page>
  );
}
