// delivery.mjs: browser steps of the delivery features (docs/delivery.md):
// the delivery progress after a save, the blast-radius preview and the live
// view of connected SDKs. Called once from e2e.mjs with its helpers.
//
// Input (environment, set by control/ui/delivery_e2e_test.go): SY_DELIVERY_STREAMS
// (SDK connections the Go test holds open to the edge), SY_IMPACT_CHANGED,
// SY_IMPACT_MOVES ("false>true:18,…": the expected transitions of removing
// rule 1 of impact-demo, computed from the seeded population),
// SY_IMPACT_MIN_USERS (a change request with that change is open). Without SY_DELIVERY_STREAMS the steps are skipped.

// waitText polls loc's text until it matches re (ms: how long).
async function waitText(page, loc, re, what, ms = 40000) {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = (await loc.textContent().catch(() => '')) || '';
    if (re.test(last)) return last;
    await page.waitForTimeout(150);
  }
  throw new Error(`${what}: text ${JSON.stringify(last)} does not match ${re}`);
}

export async function deliverySteps({ page, step, shot, expectVisible }) {
  const streams = process.env.SY_DELIVERY_STREAMS;
  if (!streams) return;
  const n = Number(streams);
  const nav = page.getByRole('navigation', { name: 'Sections' });

  await step('delivery-progress-after-save', async () => {
    await nav.getByRole('link', { name: 'Flags', exact: true }).click();
    await page.getByRole('link', { name: 'Impact demo' }).click();
    await expectVisible(page.getByRole('heading', { name: 'Rules' }), 'impact-demo flag page');
    await page.getByLabel('Description', { exact: true }).fill('saved with a delivery receipt');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const bar = page.getByRole('progressbar', { name: 'Delivery to connected SDKs' });
    await expectVisible(bar, 'the delivery progress bar after the save');
    const want = new RegExp(`^Delivered to ${n} of ${n} connections?( in \\d+\\.\\d s)?\\.`);
    await waitText(page, page.getByTestId('delivery').getByRole('status'), want, 'delivery text');
    const now = await bar.getAttribute('aria-valuenow'), max = await bar.getAttribute('aria-valuemax');
    if (now !== String(n) || max !== String(n)) throw new Error(`progressbar aria-valuenow ${now} of ${max}, want ${n} of ${n}`);
    if ((await page.getByTestId('delivery').getAttribute('data-state')) !== 'done') throw new Error('delivery not marked done');
    await shot('delivery-progress');
  });

  await step('impact-preview-of-a-rule-removal', async () => {
    // remove rule 1 ("Gold tier") in the draft and preview it over 30 days
    await page.getByRole('button', { name: 'Remove rule 1', exact: true }).click();
    const card = page.locator('section.impact');
    await card.getByLabel('End users seen in the').selectOption('720h');
    await card.getByRole('button', { name: 'Preview impact' }).click();
    const result = page.getByRole('region', { name: 'Impact preview result' });
    await expectVisible(result, 'the preview result');
    const changed = await result.getByTestId('impact-changed').textContent();
    if (changed !== process.env.SY_IMPACT_CHANGED) throw new Error(`changed ${changed}, want ${process.env.SY_IMPACT_CHANGED}`);
    const users = Number((await result.getByTestId('impact-users').textContent()).replace(/,/g, ''));
    if (!(users >= Number(process.env.SY_IMPACT_MIN_USERS))) throw new Error(`${users} end users evaluated, want at least ${process.env.SY_IMPACT_MIN_USERS}`);
    const rows = result.getByRole('table', { name: 'Variation changes' }).locator('tbody tr');
    const moves = process.env.SY_IMPACT_MOVES.split(',').filter(Boolean);
    if ((await rows.count()) !== moves.length) throw new Error(`${await rows.count()} transitions, want ${moves.length} (${moves})`);
    for (const m of moves) {
      const [, from, to, count] = /^(.*)>(.*):(\d+)$/.exec(m);
      const row = rows.filter({ has: page.locator('td:nth-child(1)', { hasText: new RegExp(`^${from}$`) }) })
        .filter({ has: page.locator('td:nth-child(2)', { hasText: new RegExp(`^${to}$`) }) });
      if ((await row.count()) !== 1) throw new Error(`no row ${from} → ${to}`);
      const cells = await row.locator('td').allTextContents();
      if (cells[2] !== count) throw new Error(`${from} → ${to}: ${cells[2]} end users, want ${count}`);
      if (cells[3] !== `Tiered (${count})`) throw new Error(`${from} → ${to}: reasons ${JSON.stringify(cells[3])}, want "Tiered (${count})"`);
      const samples = await row.locator('td.samples a').allTextContents();
      if (samples.length !== Math.min(5, Number(count)) || !samples.every((k) => /^impact-\d{3}$/.test(k) && Number(k.slice(7)) % 5 === 0)) {
        throw new Error(`samples ${samples}: want ${Math.min(5, Number(count))} gold users (impact-NNN, NNN a multiple of 5)`);
      }
    }
    await shot('impact-preview');
    // a sample links to the end-users page, searched for that user
    await page.getByRole('button', { name: 'Discard changes' }).click();
    const first = rows.first().locator('td.samples a').first();
    const key = await first.textContent();
    await first.click();
    await expectVisible(page.getByRole('heading', { name: 'End users', level: 1 }), 'end-users page from a sample');
    await expectVisible(page.getByRole('link', { name: key, exact: true }), `the sample ${key} in the end-user list`); // the key opens its detail page
  });

  await step('impact-preview-on-a-change-request', async () => {
    // the Go test opened a change request removing rule 1 of impact-demo
    await nav.getByRole('link', { name: 'Change requests', exact: true }).click();
    await page.getByRole('link', { name: /flag impact-demo/ }).click();
    await expectVisible(page.getByRole('heading', { name: 'Impact if applied' }), 'the preview on the review page');
    await page.locator('section.impact').getByRole('button', { name: 'Preview impact' }).click();
    const result = page.getByRole('region', { name: 'Impact preview result' });
    await expectVisible(result, 'the preview result');
    const changed = await result.getByTestId('impact-changed').textContent();
    if (changed !== process.env.SY_IMPACT_CHANGED) throw new Error(`changed ${changed}, want ${process.env.SY_IMPACT_CHANGED}`);
    const counts = await result.getByTestId('impact-count').allTextContents();
    const want = process.env.SY_IMPACT_MOVES.split(',').filter(Boolean).map((m) => m.split(':')[1]);
    if (counts.sort().join() !== want.sort().join()) throw new Error(`transition counts ${counts}, want ${want}`);
    await shot('impact-change-request');
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await expectVisible(page.locator('.badge').filter({ hasText: /^closed$/ }), 'closed');
  });

  await step('connected-sdks-live-view', async () => {
    await nav.getByRole('link', { name: 'Connected SDKs', exact: true }).click();
    await expectVisible(page.getByRole('heading', { name: 'Connected SDKs', level: 1 }), 'connected SDKs page');
    const total = page.getByTestId('sdk-total');
    await waitText(page, total, new RegExp(`^${n} connections?: ${n} server, 0 client, on 1 edge\\.`), 'connection total');
    const all = page.getByRole('table', { name: 'Connections by SDK' });
    const cells = await all.locator('tbody tr').first().locator('td').allTextContents();
    if (cells[0] !== 'server' || cells[2] !== String(n)) throw new Error(`first SDK row ${JSON.stringify(cells)}, want server with ${n}`);
    await expectVisible(page.getByRole('table', { name: /^Connections on / }), 'the per-edge table');
    await shot('connected-sdks');
  });

  await step('delivery-progress-states', async () => {
    // receipts as the API would answer while an edge lags, and with no SDK
    // connected (the answers are stubbed in the browser; the real ones are
    // checked in delivery-progress-after-save)
    const receipt = (o) => JSON.stringify({ requestId: 'x', envId: 'e', envVersion: 9, changedAt: Date.now(), fraction: 0, complete: false,
      connections: { server: 0, client: 0, total: 0 }, delivered: { server: 0, client: 0, total: 0 }, edges: [], reached: false, ...o });
    let answer = receipt({ connections: { server: 1, client: 2, total: 3 }, delivered: { server: 1, client: 0, total: 1 }, fraction: 1 / 3,
      edges: [{ edge: 'edge-a:4242:1', envVersion: 9, connections: { server: 1, client: 0, total: 1 }, delivered: true, deliveredAt: Date.now() },
        { edge: 'edge-b:4242:1', envVersion: 8, connections: { server: 0, client: 2, total: 2 }, delivered: false }] });
    await page.route('**/changes/*/receipt*', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: answer }));
    try {
      await nav.getByRole('link', { name: 'Flags', exact: true }).click();
      await page.getByRole('link', { name: 'Impact demo' }).click();
      const sw = page.getByRole('switch', { name: 'Enable impact-demo' });
      await sw.click(); // off
      const box = page.getByTestId('delivery');
      await waitText(page, box.getByRole('status'), /^Delivered to 1 of 3 connections; 1 edge has not confirmed yet…/, 'an edge behind');
      await expectVisible(page.locator('[data-testid="delivery"][data-state="wait"]'), 'the delivery box in state wait');
      const bar = page.getByRole('progressbar', { name: 'Delivery to connected SDKs' });
      if ((await bar.getAttribute('aria-valuenow')) !== '1' || (await bar.getAttribute('aria-valuemax')) !== '3') throw new Error('progressbar values are not 1 of 3');
      await shot('delivery-progress-edge-behind');
      answer = receipt({ fraction: 1, complete: true, reached: true });
      await sw.click(); // on again: a new write, a new receipt
      await waitText(page, box.getByRole('status'), /^No SDKs are connected to this environment/, 'no SDKs');
      await expectVisible(page.locator('[data-testid="delivery"][data-state="none"]'), 'the delivery box in state none');
    } finally {
      await page.unroute('**/changes/*/receipt*');
    }
  });

  await step('impact-preview-streams-and-cancels', async () => {
    // on impact-demo's page (previous step): a streamed answer (stubbed: two
    // progress lines, then the result, cut at odd places) is read to its
    // result; a preview that hangs can be cancelled
    const url = '**/flags/impact-demo/impact';
    const v = (x) => ({ id: 'v-' + x, name: x, value: x });
    const lines = [{ progress: { users: 50000 } }, { progress: { users: 100000 } }, { result: { users: 120000, changed: 3, tookMs: 5,
      transitions: [{ from: v('false'), to: v('true'), count: 3, reasons: [{ reason: 'Tiered', count: 3 }], samples: ['u-1'] }],
      served: [{ variation: v('false'), before: 119000, after: 118997 }, { variation: v('true'), before: 1000, after: 1003 }] } }];
    const stub = async (r) => {
      if (r.request().headers()['accept'] !== 'application/x-ndjson') throw new Error('the preview did not ask for a stream');
      await r.fulfill({ status: 200, contentType: 'application/x-ndjson', body: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
    };
    await page.route(url, stub);
    const card = page.locator('section.impact');
    try {
      await card.getByRole('button', { name: 'Preview impact' }).click();
      const result = page.getByRole('region', { name: 'Impact preview result' });
      await waitText(page, result.getByTestId('impact-summary'), /^3 of 120,000 end users seen in the last 30 days/, 'streamed result');
    } finally { await page.unroute(url, stub); }
    const hang = () => { /* never answered */ };
    await page.route(url, hang);
    try {
      await card.getByRole('button', { name: 'Preview impact' }).click();
      await waitText(page, card.getByRole('status').first(), /^Evaluated 0 end users…/, 'progress while running');
      await card.getByRole('button', { name: 'Cancel preview' }).click();
      await waitText(page, card.getByRole('alert'), /The preview was cancelled\./, 'cancelled');
    } finally { await page.unroute(url, hang); }
  });
}
