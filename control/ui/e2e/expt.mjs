// expt.mjs: the experiment workflow in the browser (issue 18), called from
// e2e.mjs. Everything is set up through the UI: a flag whose default rule
// splits 80/20 and sends its users to experiments, a metric, the experiment
// (flag, baseline, primary metric), start. An SDK population then goes
// through the real edge the way FeatBit's JavaScript client SDK does it:
// each user's flags come from the edge's polling answer, and the insight
// sent back carries the variation and the sendToExperiment the edge gave.
// The result page must show the expected 80/20 split, no sample-ratio
// alarm and the right winner; users of one arm then stop reporting (a
// skewed population) and the page must raise the alarm. The winner is
// shipped from the page, and a guarded rollout is started, shown and
// aborted from the page.

// population evaluates users [from, to) at the edge and returns their
// insights; keep(variationName) decides whose events are sent.
async function population(edge, secret, flagKey, from, to, convert, keep) {
  const out = [];
  const seen = { control: 0, treatment: 0, experiment: 0 };
  for (let i = from; i < to; i++) {
    const user = { keyId: `expt-user-${i}`, name: `Expt user ${i}`, customizedProperties: [] };
    const res = await fetch(`http://${edge}/api/public/sdk/client/latest-all`, {
      method: 'POST', headers: { Authorization: secret, 'Content-Type': 'application/json' }, body: JSON.stringify(user),
    });
    if (!res.ok) throw new Error(`edge polling answered ${res.status} for ${user.keyId}`);
    const body = await res.json();
    const f = (body.data?.featureFlags || []).find((x) => x.id === flagKey);
    if (!f) throw new Error(`the edge's polling answer lacks ${flagKey}`);
    const arm = f.variation === 'new' ? 'treatment' : 'control';
    seen[arm]++;
    if (f.sendToExperiment) seen.experiment++;
    if (!keep(arm)) continue;
    const ts = Date.now();
    const insight = { user, variations: [{ featureFlagKey: flagKey, variation: { id: f.variationId, value: f.variation }, timestamp: ts, sendToExperiment: f.sendToExperiment }], metrics: [] };
    // deterministic conversions: treatment converts 45 %, control 20 %
    if ((i * 7919) % 100 < (arm === 'treatment' ? 45 : 20)) {
      insight.metrics.push({ route: '/pricing', type: 'CustomEvent', eventName: convert, appType: 'javascript', timestamp: ts + 5 });
    }
    out.push(insight);
  }
  return { insights: out, seen };
}

async function track(edge, secret, insights) {
  for (let i = 0; i < insights.length; i += 80) { // the edge takes at most 100 users per request
    const res = await fetch(`http://${edge}/api/public/insight/track`, {
      method: 'POST', headers: { Authorization: secret, 'Content-Type': 'application/json' }, body: JSON.stringify(insights.slice(i, i + 80)),
    });
    if (res.status !== 200) throw new Error(`track answered ${res.status}`);
  }
}

export async function experimentSteps(t) {
  const { page, step, base, edgeAddr, serverSecret, suffix, expectVisible, expectText, shot } = t;
  const key = 'pricing-' + suffix;
  const name = 'Pricing page ' + suffix;
  const metricName = 'Upgrade ' + suffix;
  const event = 'upgrade-' + suffix;
  const nav = () => page.getByRole('navigation', { name: 'Sections' });
  const row = () => page.getByRole('row', { name: new RegExp(name) }).first();
  const results = () => page.getByRole('region', { name: `Results of the experiment on ${name}` });
  // refresh the results until re(text of locator) holds
  const refreshUntil = async (loc, re, what) => {
    const deadline = Date.now() + 60000;
    let last = '';
    while (Date.now() < deadline) {
      last = (await loc.textContent().catch(() => '')) || '';
      if (re.test(last)) return;
      await results().getByRole('button', { name: 'Refresh' }).click();
      await page.waitForTimeout(500);
    }
    throw new Error(`${what}: ${JSON.stringify(last)} does not match ${re}`);
  };

  await step('experiment-traffic-set-on-the-default-rule', async () => {
    await nav().getByRole('link', { name: 'Flags', exact: true }).click();
    await page.getByRole('button', { name: 'Create flag' }).click();
    const form = page.getByRole('form', { name: 'Create flag' });
    await form.getByLabel('Key').fill(key);
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Type').selectOption('string');
    await form.getByLabel('Variation 1 name').fill('control');
    await form.getByLabel('Variation 1 value').fill('old');
    await form.getByLabel('Variation 2 name').fill('treatment');
    await form.getByLabel('Variation 2 value').fill('new');
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    await expectVisible(page.getByRole('heading', { name: 'Default rule' }), 'flag detail');
    await page.getByRole('button', { name: 'Edit the default rule' }).click(); // the default rule card opens in place
    await page.getByLabel('Default rule serves').selectOption({ label: 'a percentage rollout' });
    await page.getByLabel('Default rule % control').fill('80');
    await page.getByLabel('Default rule % treatment').fill('20');
    const traffic = page.getByRole('group', { name: 'Default rule experiment traffic' });
    await traffic.getByLabel('Default rule: send users to experiments').check();
    await expectVisible(traffic.getByLabel('Default rule % of treatment users in the experiment'), 'experiment share per variation');
    if ((await traffic.getByLabel('Default rule % of control users in the experiment').inputValue()) !== '100') throw new Error('default experiment share is not 100%');
    // a rule added now is in the experiment too: it does not silently exclude its users
    await page.getByRole('button', { name: 'Add rule' }).click();
    if (!(await page.getByLabel('Rule 1: send users to experiments').isChecked())) throw new Error('a new rule is out of the experiment');
    await page.getByRole('button', { name: 'Remove rule 1', exact: true }).click();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expectText(page.getByRole('region', { name: 'Save' }).getByRole('status').last(), /Saved/, 'saved');
    const sw = page.getByRole('switch', { name: 'Enable ' + key });
    await sw.click();
    await page.waitForFunction((k) => document.querySelector(`[role=switch][aria-label="Enable ${k}"]`)?.getAttribute('aria-checked') === 'true', key);
    await page.reload();
    await expectText(page.getByTestId('default-sentence'), /· in experiments$/, 'the default rule card says it sends users to experiments');
    await page.getByRole('button', { name: 'Edit the default rule' }).click();
    if (!(await page.getByLabel('Default rule: send users to experiments').isChecked())) throw new Error('experiment traffic not saved');
  });

  await step('experiment-created-and-started-in-the-ui', async () => {
    await nav().getByRole('link', { name: 'Experiments', exact: true }).click();
    const mf = page.getByRole('form', { name: 'Create metric' });
    await mf.getByLabel('Metric name').fill(metricName);
    await mf.getByLabel('Event name').fill(event);
    await mf.getByRole('button', { name: 'Create metric' }).click();
    const xf = page.getByRole('form', { name: 'Create experiment' });
    await expectVisible(page.getByRole('table', { name: 'Metrics' }).getByRole('cell', { name: metricName }), 'new metric in the list');
    await xf.getByLabel('Experiment flag').selectOption({ label: name });
    await expectText(xf.getByRole('status', { name: 'Experiment traffic of the flag' }), /default rule/, 'the flag sends its default rule to experiments');
    await xf.getByLabel('Baseline variation').selectOption({ label: 'control' });
    await xf.getByLabel('Primary metric').selectOption({ label: metricName });
    await xf.getByRole('button', { name: 'Create experiment' }).click();
    await expectText(row(), /not started/, 'new experiment row');
    await row().getByRole('button', { name: 'Start' }).click();
    await expectText(row(), /running/, 'experiment running');
  });

  let first;
  await step('experiment-results-right-winner-no-false-srm', async () => {
    first = await population(edgeAddr, serverSecret, key, 0, 2000, event, () => true);
    if (first.seen.experiment !== 2000) throw new Error(`the edge sent ${first.seen.experiment} of 2000 users to the experiment`);
    if (first.seen.treatment < 320 || first.seen.treatment > 480) throw new Error(`80/20 split gave ${JSON.stringify(first.seen)}`);
    await track(edgeAddr, serverSecret, first.insights);
    await row().getByRole('button', { name: 'Results' }).click();
    await expectVisible(results(), 'results');
    await refreshUntil(results().getByTestId('exposures'), new RegExp(`control ${first.seen.control}, treatment ${first.seen.treatment}|treatment ${first.seen.treatment}, control ${first.seen.control}`), 'all exposures counted');
    await expectText(results().getByTestId('expected-split'), /control 80\.0%.*treatment 20\.0%|treatment 20\.0%.*control 80\.0%/, 'expected split from the flag');
    await expectText(results().getByTestId('srm'), /as configured/, 'no sample-ratio alarm on a healthy 80/20 split');
    await expectText(results().getByTestId('winner'), /Winner on the primary metric: treatment/, 'treatment wins');
    await shot('experiment-results');
  });

  await step('experiment-srm-alarm-on-skewed-traffic', async () => {
    // 1000 more users, but those served control never report: the arms skew
    const more = await population(edgeAddr, serverSecret, key, 2000, 3000, event, (arm) => arm === 'treatment');
    await track(edgeAddr, serverSecret, more.insights);
    await refreshUntil(results().getByTestId('srm'), /Sample-ratio mismatch/, 'sample-ratio alarm');
    await shot('experiment-srm');
  });

  await step('experiment-winner-shipped', async () => {
    const ship = results().getByRole('group', { name: 'Ship a variation' });
    await ship.getByLabel('Variation to ship').selectOption({ label: 'treatment (winner)' });
    await ship.getByRole('button', { name: 'Ship to everyone in the experiment' }).click();
    await expectText(row(), /stopped.*shipped treatment|shipped treatment/, 'experiment shipped and stopped');
  });

  await step('insights-per-user-table', async () => {
    await nav().getByRole('link', { name: 'Insights', exact: true }).click();
    await page.getByLabel('Flag').selectOption(key);
    const table = page.getByRole('table', { name: `End users of ${key}` });
    await expectVisible(table.getByRole('cell', { name: /^expt-user-\d+$/ }), 'a user row');
    await page.getByLabel('Variation served').selectOption({ label: 'treatment' });
    await expectText(table.locator('tbody tr').first(), /treatment/, 'filtered by variation');
    if (!(await page.getByRole('button', { name: 'Next users' }).isEnabled())) throw new Error('no next page with over 50 users');
    await page.getByRole('button', { name: 'Next users' }).click();
    await expectVisible(table.getByRole('cell', { name: /^expt-user-\d+$/ }), 'second page');
    await shot('insights-users');
  });

  await step('guarded-rollout-started-shown-aborted', async () => {
    await nav().getByRole('link', { name: 'Experiments', exact: true }).click();
    const form = page.getByRole('form', { name: 'Start guarded rollout' });
    await form.getByLabel('Rollout flag').selectOption({ label: name });
    await form.getByLabel('Variation to roll out').selectOption({ label: 'control' });
    await form.getByRole('button', { name: 'Start guarded rollout' }).click();
    await expectText(form.getByRole('alert').first(), /metric/i, 'no guardrail chosen: refused');
    await form.getByRole('checkbox', { name: new RegExp(metricName) }).check();
    await form.getByRole('button', { name: 'Start guarded rollout' }).click();
    const table = page.getByRole('table', { name: 'Guarded rollouts' });
    const r = table.getByRole('row', { name: new RegExp(name) });
    await expectText(r, /1 of 4 \(1%\).*running/, 'stage 1 of 4 at 1%');
    await shot('guarded-rollout');
    await r.getByRole('button', { name: `Abort the rollout on ${name}` }).click();
    await expectText(r, /aborted/, 'rollout aborted');
  });
}
