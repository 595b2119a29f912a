// pages/schedules.tsx: the scheduled changes of an environment, filtered by
// state, with cancel for pending ones. Schedules are made on the flag page
// ("Schedule this draft").
import { useEffect, useState } from 'preact/hooks';
import { api, Env, Schedule } from '../api';
import { Busy, FormError, Page, Select, Spinner } from '../ui';
import { ScheduleTable } from './flagschedule';

export function Schedules({ env }: { env: Env }) {
  const [status, setStatus] = useState('');
  const [items, setItems] = useState<Schedule[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () => api.schedules(env.id, status).then((r) => { setItems(r.items); setErr(null); }).catch(setErr);
  useEffect(() => { load(); }, [status]);
  return (
    <Page title="Scheduled changes">
      <p class="muted">Prepared flag changes applied at a chosen time (exactly once, through the same checks as any save). Schedule one from a flag's page.</p>
      <div class="filters">
        <Select label="State" value={status} onChange={setStatus} err={err} field="status" options={[
          { value: '', label: 'All' }, { value: 'pending', label: 'Pending' }, { value: 'applied', label: 'Applied' },
          { value: 'failed', label: 'Failed' }, { value: 'cancelled', label: 'Cancelled' }]} />
        <Busy onClick={load} busyText="Refreshing…">Refresh</Busy>
      </div>
      <FormError err={err} fields={['status']} />
      {!items ? <Spinner /> : <ScheduleTable env={env} items={items} onChange={load} showFlag />}
    </Page>
  );
}
