// pages/enduser.tsx: one end user: the properties the SDKs reported, what
// every flag serves them (with the reason), and the GDPR erasure (the API
// erases their events too, audits it and asks for the environment's
// required change comment). CsvImport is the list page's import form.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, apiPaths, EndUser, Env, request } from '../api';
import { navigate } from '../router';
import { Busy, FormError, Page, Spinner, fmtTime, usePermissions } from '../ui';
import { UserServes } from './playground';

const enc = encodeURIComponent;

export function EndUserDetail({ env, keyId }: { env: Env; keyId: string }) {
  const can = usePermissions(env);
  const [u, setU] = useState<EndUser | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [delErr, setDelErr] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);
  useEffect(() => {
    request<EndUser>('GET', `/api/v1/envs/${enc(env.id)}/end-users/${enc(keyId)}`).then(setU).catch(setErr);
  }, [env.id, keyId]);
  const back = <a href={`/envs/${env.id}/end-users`}>← End users</a>;
  if (err) return <Page title="End user"><FormError err={err} />{back}</Page>;
  if (!u) return <Spinner />;
  const props = u.customizedProperties || [];
  return (
    <Page title={<>End user <span class="mono">{u.keyId}</span></>} actions={can('env:manage') && !confirming &&
      <button type="button" class="danger" onClick={() => { setDelErr(null); setConfirming(true); }}>Erase this end user…</button>}>
      <p class="muted">{back} · first seen {fmtTime(u.firstSeen)} · last seen {fmtTime(u.lastSeen)}</p>
      {confirming && <div class="card" role="dialog" aria-modal="false" aria-label={`Erase ${u.keyId}`}>
        <h2>Erase {u.keyId}?</h2>
        <p>This deletes the stored end user and, through analytics, every evaluation and metric event about them (GDPR erasure). It cannot be undone; an SDK that evaluates flags for this key again creates a new end user.</p>
        <FormError err={delErr} />
        <Busy class="danger" onClick={async () => {
          setDelErr(null);
          try {
            await request('DELETE', `/api/v1/envs/${enc(env.id)}/end-users/${enc(u.keyId)}`);
            navigate(`/envs/${env.id}/end-users?erased=${enc(u.keyId)}`);
          } catch (e) { setDelErr(e); }
        }} busyText="Erasing…">Erase {u.keyId}</Busy>
        <button type="button" onClick={() => setConfirming(false)}>Cancel</button>
      </div>}
      <section class="card" aria-labelledby="h-props">
        <h2 id="h-props">Properties</h2>
        <table class="list compact" aria-label="Properties">
          <tbody>
            <tr><th scope="row">keyId</th><td class="mono">{u.keyId}</td></tr>
            <tr><th scope="row">name</th><td>{u.name || <span class="muted">—</span>}</td></tr>
            {props.map((p) => <tr key={p.name}><th scope="row">{p.name}</th><td>{p.value}</td></tr>)}
          </tbody>
        </table>
      </section>
      <section class="card" aria-labelledby="h-serves">
        <h2 id="h-serves">What every flag serves {u.keyId}</h2>
        <UserServes env={env} user={{ keyId: u.keyId, name: u.name, customizedProperties: props }} rev={1} />
      </section>
    </Page>
  );
}

const IMPORT_ROUTE = '/api/v1/envs/{envId}/end-users/import';
export const MAX_CSV_BYTES = 1_000_000; // below the API's 1 MiB body limit, with room for the JSON around it

interface ImportResult { imported: number; properties: string[] }

// CsvImport: a CSV file (header row = property names, keyId required) read
// in the browser and sent as text; the API parses, bounds and stores it.
export function CsvImport({ env, onDone }: { env: Env; onDone: () => void }) {
  const can = usePermissions(env);
  const [has, setHas] = useState(false);
  const [text, setText] = useState('');
  const [file, setFile] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [res, setRes] = useState<ImportResult | null>(null);
  useEffect(() => { apiPaths().then((p) => setHas(p.has(IMPORT_ROUTE))); }, []);
  if (!has || !can('env:manage')) return null;
  return (
    <details class="card">
      <summary>Import end users from CSV</summary>
      <form aria-label="Import end users" onSubmit={(e) => e.preventDefault()}>
        <p class="hint">The first row names the columns: <code>keyId</code> (required), <code>name</code>, and any property (e.g. <code>keyId,name,country,plan</code>).
          Existing end users get the properties merged. At most 10,000 rows and {MAX_CSV_BYTES / 1_000_000} MB.</p>
        <div class="field">
          <label for="csv-file">CSV file</label>
          <input id="csv-file" type="file" accept=".csv,text/csv" onChange={async (e) => {
            setErr(null); setRes(null);
            const f = (e.target as HTMLInputElement).files?.[0];
            if (!f) return;
            setFile(f.name);
            if (f.size > MAX_CSV_BYTES) { setText(''); setErr(new ApiError(400, 'invalid', `the file has ${f.size} bytes; at most ${MAX_CSV_BYTES} are accepted`, 'csv')); return; }
            setText(await f.text());
          }} />
        </div>
        <Busy class="primary" disabled={!text} onClick={async () => {
          setErr(null); setRes(null);
          try {
            setRes(await request<ImportResult>('POST', `/api/v1/envs/${enc(env.id)}/end-users/import`, { csv: text }));
            onDone();
          } catch (e) { setErr(e); }
        }} busyText="Importing…">Import {file || 'CSV'}</Busy>
        <FormError err={err} />
        {res && <p class="import-result" role="status">Imported {res.imported} end user{res.imported === 1 ? '' : 's'}{res.properties?.length ? ` (properties: ${res.properties.join(', ')})` : ''}.</p>}
      </form>
    </details>
  );
}
