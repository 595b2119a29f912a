// target.mjs: browser steps for the targeting rule cards, the explain view,
// the playground, end users (CSV import, detail page, erasure with a change
// comment) and the audit diffs. e2e.mjs calls targetSteps once, with its
// page and helpers; each step is reported like the others.

// MAX_TARGETING_PX bounds the targeting page of a flag with three rules at
// 1280 × 900 (the stacked form it replaced was about 2,750 px).
export const MAX_TARGETING_PX = 1300;

export async function targetSteps({ page, step, shot, expectVisible, expectText, expectCount, base, flagKey }) {
  const nav = () => page.getByRole('navigation', { name: 'Sections' });
  const cardsKey = flagKey + '-cards';
  const sentence = (n) => page.getByTestId('rule-sentence-' + n);

  await step('rule-cards-typed-reordered-by-keyboard-and-drag', async () => {
    await nav().getByRole('link', { name: 'Flags', exact: true }).click();
    await page.getByRole('button', { name: 'Create flag' }).click();
    const form = page.getByRole('form', { name: 'Create flag' });
    await form.getByLabel('Key').fill(cardsKey);
    await form.getByLabel('Name').fill('Cards ' + flagKey);
    await form.getByLabel('Type').selectOption('string');
    await form.getByLabel('Variation 1 name').fill('control');
    await form.getByLabel('Variation 1 value').fill('classic');
    await form.getByLabel('Variation 2 name').fill('beta');
    await form.getByLabel('Variation 2 value').fill('new');
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    await expectVisible(page.getByRole('heading', { name: 'Rules' }), 'flag detail');

    // three rules, typed into their cards; Done closes a card to its sentence
    const addRule = async (n, name, fill) => {
      await page.getByRole('button', { name: 'Add rule' }).click();
      const r = page.getByRole('group', { name: 'Rule ' + n, exact: true });
      await r.getByLabel(`Rule ${n} name`).fill(name);
      await fill(r);
      await r.getByRole('button', { name: `Edit rule ${n}` }).click(); // "Done"
      await expectCount(r.getByLabel(`Rule ${n} name`), 0, `rule ${n} editor after Done`);
    };
    await addRule(1, 'EU pro', async (r) => {
      await r.getByLabel('Rule 1 condition 1 property').fill('country');
      await r.getByLabel('Rule 1 condition 1 operator').selectOption('IsOneOf');
      await r.getByLabel('Rule 1 condition 1 value').fill('fr, de');
      await r.getByRole('button', { name: 'Add condition to rule 1' }).click();
      await r.getByLabel('Rule 1 condition 2 property').fill('plan');
      await r.getByLabel('Rule 1 condition 2 value').fill('pro');
      await r.getByLabel('Rule 1 serves').selectOption({ label: 'a percentage rollout' });
      await r.getByLabel('Rule 1 % control').fill('50');
      await r.getByLabel('Rule 1 % beta').fill('50');
    });
    await addRule(2, 'Staff', async (r) => {
      await r.getByLabel('Rule 2 condition 1 property').fill('email');
      await r.getByLabel('Rule 2 condition 1 operator').selectOption('EndsWith');
      await r.getByLabel('Rule 2 condition 1 value').fill('@example.com');
      await r.getByLabel('Rule 2 serves').selectOption({ label: 'beta' });
    });
    await addRule(3, 'Beta segment', async (r) => {
      await r.getByLabel('Rule 3 condition 1 operator').selectOption('@in');
      await r.getByLabel('Rule 3 condition 1 segments').selectOption({ label: 'Beta testers' });
      await r.getByLabel('Rule 3 serves').selectOption({ label: 'beta' });
    });
    await expectText(sentence(1), /^EU pro: if country is one of fr, de and plan equals pro → serve control 50 % \/ beta 50 %$/, 'rule 1 as a sentence');
    await expectText(sentence(2), /^Staff: if email ends with @example\.com → serve beta$/, 'rule 2 as a sentence');
    await expectText(sentence(3), /^Beta segment: if user is in segment Beta testers → serve beta$/, 'rule 3 as a sentence');
    // the live summary: a bar per rule and for the default rule
    await expectVisible(page.getByRole('img', { name: 'Who gets what: rule 1: control 50 %, beta 50 %' }), 'rule 1 bar');
    await expectVisible(page.getByRole('img', { name: 'Who gets what: default rule: control 100 %' }), 'default rule bar');

    // keyboard: rule 3 up twice; the focus follows the rule
    await page.getByRole('button', { name: 'Move rule 3 up' }).focus();
    await page.keyboard.press('Enter');
    await expectText(sentence(2), /^Beta segment:/, 'rule 3 moved up by keyboard');
    try {
      await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Move rule 2 up', null, { timeout: 5000 });
    } catch { throw new Error('the focus did not follow the moved rule to "Move rule 2 up"'); }
    await page.keyboard.press('Enter');
    await expectText(sentence(1), /^Beta segment:/, 'moved up again with the focus on it');
    // drag: the first card onto the third
    await page.getByTestId('rule-grip-1').dragTo(page.getByTestId('rule-card-3'));
    await expectText(sentence(3), /^Beta segment:/, 'rule 1 dragged to the end');
    await expectText(sentence(1), /^EU pro:/, 'EU pro first again');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expectText(page.getByRole('region', { name: 'Save' }).getByRole('status').last(), /Saved/, 'saved');
    await page.getByRole('switch', { name: 'Enable ' + cardsKey }).click();
    await page.waitForFunction((k) => document.querySelector(`[role=switch][aria-label="Enable ${k}"]`)?.getAttribute('aria-checked') === 'true', cardsKey);

    // the page with three rules, after a reload, is compact
    await page.reload();
    await expectText(sentence(3), /^Beta segment:/, 'the order after a reload');
    await page.evaluate(() => window.scrollTo(0, 0));
    const h = await page.evaluate(() => document.documentElement.scrollHeight);
    process.stdout.write(`targeting page height for 3 rules: ${h} px (bound ${MAX_TARGETING_PX})\n`);
    if (h > MAX_TARGETING_PX) throw new Error(`the targeting page with 3 rules is ${h} px high; bound ${MAX_TARGETING_PX}`);
    await shot('flag-rule-cards');
  });

  await step('explain-beside-the-rule-cards', async () => {
    const form = page.getByRole('form', { name: 'Evaluate for a user' });
    const result = page.getByRole('region', { name: 'Evaluation result' });
    await form.getByLabel('User key').fill('ann@example.com');
    await form.getByLabel('User properties').fill('country=us, email=ann@example.com');
    await form.getByRole('button', { name: 'Evaluate' }).click();
    await expectText(result.getByTestId('eval-reason'), /^Staff$/, 'the matching rule');
    await expectText(result.getByTestId('eval-variation'), /^beta$/, 'its variation');
    await expectText(result, /Rule 1 “EU pro” did not match/, 'the rule before it did not match');
    await expectText(page.getByTestId('rule-card-2').locator('.badge'), /^matched$/, 'the matching rule card is marked');
    // the explain column sits beside the rules, not under them
    const rules = await page.getByRole('heading', { name: 'Rules' }).boundingBox();
    const ev = await page.getByRole('heading', { name: 'Evaluate for a user' }).boundingBox();
    if (!rules || !ev || ev.x < rules.x + 200) throw new Error(`the explain view is not beside the rules (${JSON.stringify({ rules, ev })})`);
    await shot('flag-rule-cards-explain');
  });

  await step('playground-every-flag-and-why', async () => {
    await nav().getByRole('link', { name: 'Playground', exact: true }).click();
    const form = page.getByRole('form', { name: 'Playground user' });
    await form.getByLabel('User key').fill('u-eu-pro');
    await form.getByLabel('User properties').fill('country=de, plan=pro');
    await form.getByRole('button', { name: 'Evaluate every flag' }).click();
    const table = page.getByRole('table', { name: 'Flags served to u-eu-pro' });
    await expectVisible(table, 'the table of every flag');
    await expectText(page.getByTestId('serves-' + cardsKey), /rule 1 matched \(“EU pro”\)/, 'why the cards flag serves what it serves');
    await expectText(page.getByTestId('serves-' + flagKey), /(control|treatment)/, 'the e2e flag');
    if ((await table.locator('tbody tr').count()) < 4) throw new Error('fewer than 4 flags in the playground');
    await page.getByLabel('Filter flags').fill(cardsKey);
    await expectCount(table.locator('tbody tr'), 1, 'rows after filtering by key');
    await page.getByLabel('Filter flags').fill('');
    await page.getByLabel('Reason').selectOption('fallthrough');
    await page.waitForFunction(() => [...document.querySelectorAll('table.serves tbody tr .kind')].every((e) => e.textContent === 'default'));
    await shot('playground');
    await page.getByLabel('Reason').selectOption('');
  });

  const ann = 'csv-ann-' + flagKey, bob = 'csv-bob-' + flagKey;
  await step('end-users-csv-import-and-detail', async () => {
    await nav().getByRole('link', { name: 'End users', exact: true }).click();
    await page.getByText('Import end users from CSV').click();
    const form = page.getByRole('form', { name: 'Import end users' });
    // a file without a keyId column is refused with the reason
    await form.getByLabel('CSV file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('key,name\nx,y\n') });
    await form.getByRole('button', { name: /^Import/ }).click();
    await expectText(form.getByRole('alert'), /no keyId column/, 'malformed CSV refused');
    const csv = `keyId,name,country,plan\n${ann},Ann,de,pro\n${bob},Bob,us,free\n`;
    await form.getByLabel('CSV file').setInputFiles({ name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await form.getByRole('button', { name: 'Import users.csv' }).click();
    await expectText(form.getByRole('status'), /Imported 2 end users \(properties: country, plan\)/, 'import result');
    await page.getByLabel('Search end users').fill(ann);
    await page.getByRole('link', { name: ann, exact: true }).click();
    await expectVisible(page.getByRole('heading', { name: 'End user ' + ann }), 'detail page');
    await expectVisible(page.getByRole('table', { name: 'Properties' }).getByRole('row', { name: 'country de' }), 'imported property');
    await expectText(page.getByTestId('serves-' + cardsKey), /beta|control/, 'what the cards flag serves');
    await expectText(page.getByTestId('serves-' + cardsKey), /rule 1 matched \(“EU pro”\)/, 'and why');
    await shot('end-user-detail');
  });

  await step('end-user-erased-with-a-change-comment', async () => {
    // the environment requires a change comment (its Settings page): the erasure asks for one
    await nav().getByRole('link', { name: 'Settings', exact: true }).click();
    const protForm = page.getByRole('form', { name: 'Protection' });
    const req = protForm.getByRole('checkbox', { name: /Require a change comment/ });
    await req.check();
    await protForm.getByRole('button', { name: 'Save protection' }).click();
    await expectText(protForm.getByRole('status'), /Saved/, 'comment rule saved');
    await page.goto(`${base}${new URL(page.url()).pathname.replace(/\/settings$/, '')}/end-users/${encodeURIComponent(ann)}`);
    await page.getByRole('button', { name: 'Erase this end user…' }).click();
    await page.getByRole('dialog', { name: 'Erase ' + ann }).getByRole('button', { name: 'Erase ' + ann }).click();
    const dlg = page.getByRole('dialog', { name: 'Change comment' });
    await dlg.getByLabel('Change comment').fill('GDPR request 42');
    await dlg.getByRole('button', { name: 'Apply change' }).click();
    await expectText(page.getByRole('status').filter({ hasText: 'Erased' }), new RegExp('Erased end user ' + ann), 'erasure notice');
    await page.getByLabel('Search end users').fill(ann);
    await expectVisible(page.getByText(/No end users/), 'the erased user is gone');
    await nav().getByRole('link', { name: 'Settings', exact: true }).click();
    await req.uncheck();
    await protForm.getByRole('button', { name: 'Save protection' }).click();
    await dlg.getByRole('button', { name: 'Apply change' }).click(); // turning the rule off needs a comment too
    await expectText(protForm.getByRole('status'), /Saved/, 'comment rule off');
  });

  await step('audit-log-readable-diffs-with-names', async () => {
    await nav().getByRole('link', { name: 'Audit log', exact: true }).click();
    const entries = page.getByRole('list', { name: 'Audit entries' });
    await page.getByLabel('Resource type', { exact: true }).selectOption('end_user');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const erased = entries.getByRole('listitem', { name: `end_user ${ann} erased` });
    await expectText(erased, /GDPR request 42/, 'the erasure with its comment');
    // an experiment created in the UI: names, not ids
    await page.getByLabel('Resource type', { exact: true }).selectOption('experiment');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const x = entries.getByRole('listitem').filter({ hasText: 'created' }).first();
    await expectVisible(x.getByRole('table', { name: /^Changes to experiment/ }), 'a field table for the experiment');
    await expectText(x, /metrics[\s\S]*\[metric [^\]]+\]/, 'the metric by name');
    await expectText(x, /flag[\s\S]*flag [a-z-]+/, 'the flag by key');
    const text = await x.textContent();
    if (/[0-9a-f]{8}-[0-9a-f]{4}-/.test(text)) throw new Error('raw id in the experiment entry: ' + text);
    await expectVisible(x.getByRole('link'), 'a link to the item');
    // a schedule: the field diff, not the whole draft as JSON
    await page.getByLabel('Resource type', { exact: true }).selectOption('schedule');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const s = entries.getByRole('listitem').filter({ hasText: 'created' }).first();
    await expectVisible(s.getByRole('row', { name: /^at / }), 'the schedule time as a field');
    const st = await s.textContent();
    if (/draft set to|"rules"/.test(st)) throw new Error('the schedule entry shows the draft as JSON: ' + st.slice(0, 300));
    await shot('audit-diffs');
    await s.getByRole('link').first().click();
    await expectVisible(page.getByRole('heading', { name: 'Rules' }), 'the link opens the scheduled flag');
  });
}
