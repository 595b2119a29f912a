// pages/orghome.tsx: an organization without environments (create a project and
// an environment) and placeholders for sections whose API is not there yet.
import { useEffect, useState } from 'preact/hooks';
import { api, Env, Project } from '../api';
import { navigate } from '../router';
import { Busy, Field, FormError, Page, Spinner, useSession } from '../ui';
import { useCan } from '../perm';

export function Placeholder({ title, text }: { title: string; text?: string }) {
  return <Page title={title}><p class="muted">{text || 'This page arrives with the API routes it needs.'}</p></Page>;
}

export function OrgHome({ orgId }: { orgId: string }) {
  const s = useSession();
  const can = useCan({ org: orgId }); // creating a project: project:manage on the organization
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [envs, setEnvs] = useState<Record<string, Env[]>>({});
  const [pname, setPname] = useState('');
  const [ename, setEname] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const load = async () => {
    try {
      const ps = (await api.projects(orgId)).items;
      const es: Record<string, Env[]> = {};
      for (const p of ps) es[p.id] = (await api.envs(p.id)).items;
      setProjects(ps); setEnvs(es);
    } catch (e) { setErr(e); }
  };
  useEffect(() => { if (orgId !== 'none') load(); else setProjects([]); }, [orgId]);
  if (orgId === 'none') return <Placeholder title="No organization" text="You are not a member of any organization yet; ask an admin to add you." />;
  if (!projects) return <><Spinner /><FormError err={err} /></>;
  return (
    <Page title={s.org?.name || 'Organization'}>
      {projects.map((p) => (
        <section class="card" key={p.id}>
          <h2>{p.name} <a class="small-title" href={`/orgs/${orgId}/projects/${p.id}`}>Project settings</a></h2>
          <ul>{(envs[p.id] || []).map((e) => <li key={e.id}><a href={`/envs/${e.id}/flags`}>{e.name}</a></li>)}</ul>
          {(envs[p.id] || []).length === 0 && <p class="muted">No environments.</p>}
          {can('project:manage') && <div class="row">
            <Field label={`New environment in ${p.name}`} value={ename} onInput={setEname} err={err} field="name" />
            <Busy onClick={async () => {
              try { const e = await api.createEnv(p.id, ename, '', ''); navigate(`/envs/${e.id}/flags`); } catch (e) { setErr(e); }
            }} busyText="Creating…">Create environment</Busy>
          </div>}
        </section>
      ))}
      {can.ready && !can('project:manage') && <p class="hint why" role="note">Creating projects: {can.why('project:manage')}</p>}
      {can('project:manage') && <section class="card">
        <div class="row">
          <Field label="New project name" value={pname} onInput={setPname} err={err} field="name" />
          <Busy onClick={async () => {
            try { await api.createProject(orgId, pname, ''); setPname(''); await load(); } catch (e) { setErr(e); }
          }} busyText="Creating…">Create project</Busy>
        </div>
      </section>}
      <FormError err={err} fields={['name']} />
    </Page>
  );
}
