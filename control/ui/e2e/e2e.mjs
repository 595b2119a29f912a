// e2e.mjs: browser end-to-end test of the operator UI with headless Debian
// Chromium driven by playwright-core. Run by control/ui/e2e_test.go (build
// tag integration), which starts the platform and reads the results.
//
// Input (environment): SY_UI_URL, SY_ADMIN_EMAIL, SY_ADMIN_PASSWORD,
// SY_FLAG_KEY (a new flag key), SY_VIEWER_EMAIL, SY_VIEWER_PASSWORD,
// SY_ARTIFACTS (screenshot directory), SY_CHROMIUM (default /usr/bin/chromium),
// SY_WEBHOOK_URL (a receiver that answers 2xx; without it the test delivery
// only has to appear in the log), SY_WEBHOOK_SECRET (the signing secret to
// type in; empty: the API makes one), SY_SSO_ORG, SY_SSO_ISSUER, SY_SSO_LOGIN,
// SY_SSO_DEV_ENV, SY_SSO_PROD_ENV (single sign-on through the local OpenID
// provider; the step is skipped without them), SY_EDGE_ADDR and
// SY_SERVER_SECRET (the dev environment's edge and server secret: the
// experiment steps' SDK population, e2e/expt.mjs).
// Output: one JSON object per line on stdout: {"step","ok","ms","error"?};
// the last line is {"done":true,"passed":N,"failed":M}. The first failing
// step ends the run (later steps depend on it) after a screenshot.
import { chromium } from 'playwright-core';
import { a11yTour } from './a11y.mjs';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { targetSteps } from './target.mjs';
import { governanceSteps } from './gov.mjs';
import { deliverySteps } from './delivery.mjs';
import { experimentSteps } from './expt.mjs';
import { orgDeleteSteps } from './orgdelete.mjs';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) { console.error(`e2e: ${k} is not set`); process.exit(2); }
  return v;
};
const base = env('SY_UI_URL').replace(/\/$/, '');
const admin = { email: env('SY_ADMIN_EMAIL'), password: env('SY_ADMIN_PASSWORD') };
const viewer = { email: env('SY_VIEWER_EMAIL'), password: env('SY_VIEWER_PASSWORD') };
const flagKey = env('SY_FLAG_KEY');
const shots = env('SY_ARTIFACTS');
const webhookURL = env('SY_WEBHOOK_URL', '');
const webhookSecret = env('SY_WEBHOOK_SECRET', '');
const edgeAddr = env('SY_EDGE_ADDR');
const flagName = 'E2E checkout ' + flagKey;
const sso = { org: env('SY_SSO_ORG', ''), issuer: env('SY_SSO_ISSUER', ''), login: env('SY_SSO_LOGIN', ''),
  dev: env('SY_SSO_DEV_ENV', ''), prod: env('SY_SSO_PROD_ENV', '') };
mkdirSync(shots, { recursive: true });

const profile = mkdtempSync(join(tmpdir(), 'sy-ui-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env('SY_CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
context.setDefaultTimeout(15000);
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(base).origin });
const page = context.pages()[0] || await context.newPage();
const problems = [];
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push('console error: ' + m.text()); });
// no request may leave this origin
const origin = new URL(base).origin;
page.on('request', (r) => {
  const u = r.url();
  // the one other host: the OpenID provider of the single sign-on step
  if (!u.startsWith(origin) && !u.startsWith('data:') && !(sso.issuer && u.startsWith(sso.issuer + '/'))) problems.push('request to another host: ' + u);
});

let passed = 0, failed = 0;
const report = (o) => process.stdout.write(JSON.stringify(o) + '\n');
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    if (problems.length) throw new Error(problems.splice(0).join('; '));
    passed++;
    report({ step: name, ok: true, ms: Date.now() - t0 });
  } catch (e) {
    failed++;
    report({ step: name, ok: false, ms: Date.now() - t0, error: String(e && e.message || e).slice(0, 2000) });
    try { await page.screenshot({ path: join(shots, `FAILED-${name}.png`), fullPage: true }); } catch { /* closed */ }
    throw e;
  }
}
// settle waits until no page shows a spinner or is busy loading.
const settle = () => page.waitForFunction(() => !document.querySelector('.loading, [aria-busy="true"]'));
// shot saves a screenshot once the page settled, and checks on the way that
// every form control has a label and every button a name.
const shot = async (name) => {
  await settle();
  const unnamed = await page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) bad.push(el.outerHTML.slice(0, 80));
    }
    for (const el of document.querySelectorAll('button')) {
      if (!(el.getAttribute('aria-label') || el.textContent.trim())) bad.push(el.outerHTML.slice(0, 80));
    }
    return bad;
  });
  if (unnamed.length) throw new Error(`${name}: controls without a label or name: ${unnamed.join(' ; ')}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, name + '.png'), fullPage: true });
};
const expectVisible = async (loc, what) => {
  try { await loc.first().waitFor({ state: 'visible' }); } catch { throw new Error(`not visible: ${what}`); }
};
const expectCount = async (loc, n, what) => {
  const c = await loc.count();
  if (c !== n) throw new Error(`${what}: found ${c}, want ${n}`);
};
const expectText = async (loc, re, what) => {
  const deadline = Date.now() + 15000;
  let last = '';
  while (Date.now() < deadline) {
    last = (await loc.textContent().catch(() => '')) || '';
    if (re.test(last)) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`${what}: text ${JSON.stringify(last)} does not match ${re}`);
};

async function login(who) {
  await page.goto(base + '/');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByLabel('Password').press('Enter'); // keyboard: Enter submits the form
  await expectVisible(page.getByRole('heading', { name: 'Feature flags' }), 'flag list after login');
}

const nav2 = (p, name) => p.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true }).click();

async function logout() {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expectVisible(page.getByRole('button', { name: 'Sign in' }), 'login form after sign-out');
}

try {
  await step('login-refused-with-wrong-password', async () => {
    await page.goto(base + '/');
    await shot('login');
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByRole('alert'), /wrong email or password/i, 'login error');
  });

  await step('login', async () => {
    await login(admin);
    await expectVisible(page.getByRole('link', { name: 'Checkout flow' }), 'demo flag in the list');
    await expectText(page.getByTestId('role'), /owner/, 'role badge');
    await shot('flags');
  });

  await step('flag-list-search-and-tag-filter', async () => {
    await page.getByLabel('Search flags').fill('checkout');
    await expectVisible(page.getByRole('link', { name: 'Checkout flow' }), 'search hit');
    await page.waitForFunction(() => !document.body.innerText.includes('Welcome banner'));
    await page.getByLabel('Search flags').fill('');
    await page.getByRole('button', { name: 'ui', exact: true }).click(); // tag filter
    await expectVisible(page.getByRole('link', { name: 'Welcome banner' }), 'tag filter hit');
    await page.waitForFunction(() => !document.body.innerText.includes('Checkout flow'));
    await page.getByRole('button', { name: 'ui', exact: true }).click();
    await expectVisible(page.getByRole('link', { name: 'Checkout flow' }), 'all flags again');
  });

  await step('create-flag-duplicate-key-error-next-to-field', async () => {
    await page.getByRole('button', { name: 'Create flag' }).click();
    const form = page.getByRole('form', { name: 'Create flag' });
    await form.getByLabel('Key').fill('checkout-flow');
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    // the API's message appears under the Key input, tied to it by aria-describedby
    const key = form.getByLabel('Key');
    await page.waitForFunction((el) => el.getAttribute('aria-invalid') === 'true', await key.elementHandle());
    const errId = await key.getAttribute('aria-describedby');
    await expectText(page.locator('#' + errId), /exist|duplicate|already/i, 'duplicate key message');
  });

  await step('create-flag', async () => {
    const form = page.getByRole('form', { name: 'Create flag' });
    await form.getByLabel('Key').fill(flagKey);
    await form.getByLabel('Name').fill(flagName);
    await form.getByLabel('Type').selectOption('string');
    await form.getByLabel('Variation 1 name').fill('control');
    await form.getByLabel('Variation 1 value').fill('classic');
    await form.getByLabel('Variation 2 name').fill('treatment');
    await form.getByLabel('Variation 2 value').fill('one-page');
    await form.getByLabel('Tags').fill('e2e, checkout');
    await shot('flag-create');
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    await expectVisible(page.getByRole('heading', { name: 'Rules' }), 'flag detail');
    if (!page.url().endsWith('/flags/' + flagKey)) throw new Error('not on the flag page: ' + page.url());
  });

  await step('rule-with-bad-rollout-is-refused-next-to-the-field', async () => {
    await page.getByRole('button', { name: 'Add rule' }).click();
    const rule = page.getByRole('group', { name: 'Rule 1', exact: true });
    await rule.getByLabel('Rule 1 name').fill('French pro users');
    await rule.getByLabel('Rule 1 condition 1 property').fill('country');
    await rule.getByLabel('Rule 1 condition 1 operator').selectOption('Equal');
    await rule.getByLabel('Rule 1 condition 1 value').fill('FR');
    await rule.getByRole('button', { name: 'Add condition to rule 1' }).click();
    await rule.getByLabel('Rule 1 condition 2 property').fill('plan');
    await rule.getByLabel('Rule 1 condition 2 operator').selectOption('IsOneOf');
    await rule.getByLabel('Rule 1 condition 2 value').fill('pro, team');
    await rule.getByLabel('Rule 1 serves').selectOption({ label: 'a percentage rollout' });
    await rule.getByLabel('Rule 1 % control').fill('30');
    await rule.getByLabel('Rule 1 % treatment').fill('60');
    const serve = page.getByRole('group', { name: 'Rule 1 serve' });
    await expectText(serve.getByRole('status', { name: 'Rule 1 rollout total' }), /Total 90%.*must be 100%/, 'live sum check');
    await page.getByRole('button', { name: 'Save changes' }).click();
    // refused by the API; its message is shown inside the rule's serve group
    await expectText(serve.getByRole('alert'), /sum to 100%.*90(\.\d+)?%/, 'rollout error next to the split');
    await shot('flag-rollout-refused');
  });

  await step('rule-30-70-saved', async () => {
    const rule = page.getByRole('group', { name: 'Rule 1', exact: true });
    await rule.getByLabel('Rule 1 % treatment').fill('70');
    await expectText(page.getByRole('status', { name: 'Rule 1 rollout total' }), /^Total 100%$/, 'live sum 100%');
    await rule.getByLabel('Rule 1 dispatch key').fill('keyId');
    await page.getByLabel('Users who get treatment').fill('alice, bob');
    await page.getByLabel('Variation served when the flag is off').selectOption({ label: 'control' });
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expectText(page.getByRole('region', { name: 'Save' }).getByRole('status').last(), /Saved/, 'saved');
    // reload: the rule came back from the API as saved
    await page.reload();
    await expectText(page.getByTestId('rule-sentence-1'), /French pro users: if country equals FR and plan is one of pro, team → serve control 30 % \/ treatment 70 %/, 'the rule card reads as a sentence');
    await page.getByRole('button', { name: 'Edit rule 1' }).click();
    await expectVisible(page.getByLabel('Rule 1 condition 2 value'), 'rule after reload');
    const v = await page.getByLabel('Rule 1 condition 2 value').inputValue();
    if (v !== 'pro, team') throw new Error('condition 2 value after reload: ' + v);
    const t = await page.getByLabel('Rule 1 % treatment').inputValue();
    if (t !== '70') throw new Error('treatment % after reload: ' + t);
  });

  await step('turn-flag-on', async () => {
    const sw = page.getByRole('switch', { name: 'Enable ' + flagKey });
    if ((await sw.getAttribute('aria-checked')) !== 'false') throw new Error('new flag should be off');
    await sw.click();
    await page.waitForFunction((k) => document.querySelector(`[role=switch][aria-label="Enable ${k}"]`)?.getAttribute('aria-checked') === 'true', flagKey);
    await shot('flag-detail');
  });

  await step('evaluate-for-a-user-explains-the-path', async () => {
    const form = page.getByRole('form', { name: 'Evaluate for a user' });
    const result = page.getByRole('region', { name: 'Evaluation result' });
    const evaluate = async (key, props) => {
      await form.getByLabel('User key').fill(key);
      await form.getByLabel('User properties').fill(props);
      await form.getByRole('button', { name: 'Evaluate' }).click();
      await expectText(result.locator('.verdict'), new RegExp('^' + key + ' gets'), 'verdict for ' + key);
    };
    await evaluate('u-fr-pro', 'country=FR, plan=pro');
    await expectText(result.getByTestId('eval-reason'), /^French pro users$/, 'matched rule');
    await expectText(result, /Rollout by keyId = u-fr-pro: bucket/, 'dispatch explained');
    await evaluate('u-de', 'country=DE, plan=pro');
    await expectText(result.getByTestId('eval-reason'), /^default$/, 'fallthrough');
    await expectText(result, /country equals FR — user has DE/, 'the failed condition with the user value');
    await expectText(result.getByTestId('eval-variation'), /^control$/, 'default variation');
    await evaluate('alice', 'country=FR, plan=pro');
    await expectText(result.getByTestId('eval-reason'), /^targeted$/, 'individual targeting wins');
    await expectText(result.getByTestId('eval-variation'), /^treatment$/, 'targeted variation');
    await shot('flag-evaluate');
  });

  await step('rule-reorder-and-segment-condition', async () => {
    // a second rule with a segment condition, moved above the first, then discarded
    await page.getByRole('button', { name: 'Add rule' }).click();
    const r2 = page.getByRole('group', { name: 'Rule 2', exact: true });
    await r2.getByLabel('Rule 2 name').fill('Beta');
    await r2.getByLabel('Rule 2 condition 1 operator').selectOption('@in');
    await r2.getByLabel('Rule 2 condition 1 segments').selectOption({ label: 'Beta testers' });
    await page.getByRole('button', { name: 'Move rule 2 up' }).click();
    const first = await page.getByLabel('Rule 1 name').inputValue();
    if (first !== 'Beta') throw new Error('after moving up, rule 1 is ' + first);
    await expectText(page.getByTestId('rule-sentence-1'), /^Beta: if user is in segment Beta testers → serve control$/, 'moved rule sentence');
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await expectText(page.getByTestId('rule-sentence-1'), /^French pro users:/, 'rule 1 after discard');
    await expectCount(page.getByRole('group', { name: 'Rule 2', exact: true }), 0, 'rule 2 after discard');
  });

  await step('audit-entry-names-the-changed-rule', async () => {
    // edit the rule (condition 1: country Equal FR → BE) and save; the flag's
    // History tab shows the field-level diff naming the rule and the condition
    const saved = page.getByRole('region', { name: 'Save' }).getByRole('status').last();
    await page.getByTestId('rule-sentence-1').click(); // a click on the sentence opens the card
    await page.getByLabel('Rule 1 condition 1 value').fill('BE');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expectText(saved, /Saved/, 'edited rule saved');
    await page.getByRole('tab', { name: 'History' }).click();
    const hist = page.getByRole('tabpanel');
    await expectVisible(hist.getByRole('listitem').filter({ hasText: /rule 'French pro users': condition.*country.*FR.*→.*BE/ }), 'history entry naming the rule and the condition');
    await expectVisible(hist.getByText(/rule 'French pro users' added: country Equal FR/), 'the entry of the rule\'s creation');
    await shot('flag-history');
    // back to FR (the SDK check at the end expects it) by restoring the
    // version before the edit: the dialog shows the difference first
    const versions = hist.getByRole('list', { name: 'Versions' });
    await versions.getByRole('button', { name: /^Restore version/ }).first().click();
    const dialog = page.getByRole('dialog', { name: /^Restore version/ });
    await expectVisible(dialog.getByRole('table', { name: 'Changes' }).getByRole('cell', { name: 'rules', exact: true }), 'the rules part in the restore diff');
    await expectText(dialog.getByRole('table', { name: 'Changes' }), /BE[\s\S]*FR/, 'diff from BE to FR');
    await shot('restore-version-diff');
    await dialog.getByRole('button', { name: /^Restore version/ }).click();
    try { await page.getByRole('dialog').waitFor({ state: 'detached' }); } catch { throw new Error('the restore dialog stays open after confirming'); }
    await expectVisible(versions.getByText(/\(current\)/), 'the restored version listed as current');
    await expectVisible(hist.getByText(/restored version \d+/), 'the restore in the history');
    await page.getByRole('tab', { name: 'Targeting' }).click();
    await expectText(page.getByTestId('rule-sentence-1'), /if country equals FR and/, 'the restored version (FR)');
    // the audit log page, filtered by the flag's key and the admin as actor
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Audit log', exact: true }).click();
    await expectVisible(page.getByRole('heading', { name: 'Audit log', level: 1 }), 'audit page');
    await page.getByLabel('Resource (key or id)', { exact: true }).fill(flagKey);
    await page.getByLabel('Actor', { exact: true }).selectOption({ label: admin.email });
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const entries = page.getByRole('list', { name: 'Audit entries' });
    await expectVisible(entries.getByRole('listitem').filter({ hasText: /rule 'French pro users': condition.*BE.*→.*FR/ }), 'audit log entry naming the rule');
    await page.waitForFunction((k) => [...document.querySelectorAll('.audit-entry .mono')].every((e) => e.textContent.trim() === k), flagKey);
    // a time range that ends before the flag existed shows nothing
    await page.getByLabel('To', { exact: true }).fill('2020-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expectVisible(page.getByText('No entries.'), 'empty result for an old time range');
    await page.getByLabel('To', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expectVisible(entries, 'entries again');
    await shot('audit-log');
  });

  await step('change-comment-required-asks-on-every-write', async () => {
    // on the environment's Settings page: require comments in dev; a toggle then asks for one
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Settings', exact: true }).click();
    const protForm = page.getByRole('form', { name: 'Protection' });
    const req = protForm.getByRole('checkbox', { name: /Require a change comment/ });
    await req.check();
    await protForm.getByRole('button', { name: 'Save protection' }).click();
    await expectText(protForm.getByRole('status'), /Saved/, 'comment rule saved');
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Flags', exact: true }).click();
    const sw = page.getByRole('switch', { name: 'Enable welcome-banner' });
    const was = await sw.getAttribute('aria-checked');
    await sw.click();
    const dlg = page.getByRole('dialog', { name: 'Change comment' });
    await dlg.getByRole('button', { name: 'Apply change' }).click();
    await expectText(dlg.getByRole('alert'), /requires a change comment/, 'empty comment refused in the dialog');
    await dlg.getByLabel('Change comment').fill('e2e: comment required');
    await page.screenshot({ path: join(shots, 'change-comment.png') }); // the toggle is busy while the dialog is open: no settle
    await dlg.getByRole('button', { name: 'Apply change' }).click();
    await page.waitForFunction((w) => document.querySelector('[role=switch][aria-label="Enable welcome-banner"]')?.getAttribute('aria-checked') !== w, was);
    await sw.click(); // back as it was; the dialog offers the last comment
    await dlg.getByRole('button', { name: 'Apply change' }).click();
    await page.waitForFunction((w) => document.querySelector('[role=switch][aria-label="Enable welcome-banner"]')?.getAttribute('aria-checked') === w, was);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Audit log', exact: true }).click();
    await expectVisible(page.getByRole('listitem').filter({ hasText: 'e2e: comment required' }).filter({ hasText: 'welcome-banner' }), 'the comment in the audit log');
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Settings', exact: true }).click();
    await req.uncheck();
    await protForm.getByRole('button', { name: 'Save protection' }).click();
    await dlg.getByRole('button', { name: 'Apply change' }).click(); // turning the rule off is a write that needs a comment too
    await expectText(protForm.getByRole('status'), /Saved/, 'comment rule off');
    if (await req.isChecked()) throw new Error('the comment rule is still on');
  });

  await step('schedule-draft-cancel-and-apply', async () => {
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Flags', exact: true }).click();
    await page.getByRole('link', { name: flagName }).click();
    await page.getByLabel('Description', { exact: true }).fill('changed by a schedule');
    await page.getByRole('button', { name: 'Schedule instead…' }).click();
    const form = page.getByRole('form', { name: 'Schedule this draft' });
    const at = form.getByLabel('Apply at');
    await at.fill('2020-01-01T00:00');
    await form.getByRole('button', { name: 'Schedule this draft' }).click();
    await page.waitForFunction((el) => el.getAttribute('aria-invalid') === 'true', await at.elementHandle());
    await expectText(page.locator('#' + (await at.getAttribute('aria-describedby'))), /in the past/, 'past time refused next to the field');
    await at.fill('2099-06-01T12:00');
    await form.getByRole('button', { name: 'Schedule this draft' }).click();
    await expectText(form.getByRole('status'), /Scheduled for 2099-06-01/, 'scheduled');
    await expectText(page.getByTestId('schedule-status').first(), /^pending$/, 'pending schedule on the flag');
    // a second one, due in three seconds (local time, with seconds)
    const soon = await page.evaluate(() => {
      const d = new Date(Date.now() + 3000), p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    });
    await at.fill(soon);
    await form.getByRole('button', { name: 'Schedule this draft' }).click();
    await expectText(form.getByRole('status'), /Scheduled for 20(?!99)/, 'second schedule');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=schedule-status]').length === 2);
    await shot('flag-schedule');
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Schedules' }).click();
    await expectVisible(page.getByRole('heading', { name: 'Scheduled changes', level: 1 }), 'schedules page');
    const far = page.getByRole('row', { name: new RegExp('Schedule of ' + flagKey + ' at 2099') });
    await far.getByRole('button', { name: /^Cancel the schedule/ }).click();
    await expectText(far.getByTestId('schedule-status'), /^cancelled$/, 'cancelled');
    const due = page.getByRole('row', { name: new RegExp('Schedule of ' + flagKey + ' at (?!2099)') });
    const deadline = Date.now() + 30000;
    while ((await due.getByTestId('schedule-status').textContent()) !== 'applied') {
      if (Date.now() > deadline) throw new Error('the due schedule is ' + (await due.getByTestId('schedule-status').textContent()) + ' after 30 s');
      await page.waitForTimeout(500);
      await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    }
    await shot('schedules');
    await due.getByRole('link', { name: flagKey }).click();
    await expectVisible(page.getByRole('heading', { name: 'Rules' }), 'flag page');
    const d = await page.getByLabel('Description', { exact: true }).inputValue();
    if (d !== 'changed by a schedule') throw new Error('description after the schedule applied: ' + d);
  });

  await step('protected-environment-change-request', async () => {
    // protect dev; a save is refused and becomes a change request with a
    // side-by-side diff; its author cannot approve it; closed, unprotected.
    const nav = page.getByRole('navigation', { name: 'Sections' });
    await nav.getByRole('link', { name: 'Settings', exact: true }).click();
    const protForm = page.getByRole('form', { name: 'Protection' });
    await protForm.getByRole('checkbox', { name: /^Protect / }).check();
    await protForm.getByRole('button', { name: 'Save protection' }).click();
    await expectText(protForm.getByRole('status'), /Saved/, 'protection on');
    await nav.getByRole('link', { name: 'Flags', exact: true }).click();
    await page.getByRole('link', { name: flagName }).click();
    await page.getByLabel('Description', { exact: true }).fill('proposed in e2e');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expectText(page.getByRole('alert').filter({ hasText: 'protected' }), /change request/, 'save refused in a protected environment');
    await page.getByRole('button', { name: 'Propose as a change request' }).click();
    await expectVisible(page.getByRole('heading', { name: /^Change request: flag/ }), 'change request page');
    const sbs = page.getByRole('table', { name: 'Side-by-side difference' });
    await expectVisible(sbs.locator('td.add').filter({ hasText: 'proposed in e2e' }), 'the proposal in the right column');
    await expectVisible(sbs.locator('td.del').filter({ hasText: 'changed by a schedule' }), 'the current value in the left column');
    // the author's Approve is disabled and says why (the API refuses it too)
    const approve = page.getByRole('button', { name: 'Approve', exact: true });
    await expectVisible(approve, 'Approve button');
    if (!(await approve.isDisabled())) throw new Error("the author's Approve button is enabled");
    if (!/You proposed this change/.test((await approve.getAttribute('title')) || '')) throw new Error('the disabled Approve button does not say why');
    await shot('change-request');
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await expectVisible(page.locator('.badge').filter({ hasText: /^closed$/ }), 'closed');
    await nav.getByRole('link', { name: 'Change requests', exact: true }).click();
    await page.getByLabel('State').selectOption('');
    await expectVisible(page.getByRole('link', { name: new RegExp('flag ' + flagKey) }), 'the request in the list');
    await nav.getByRole('link', { name: 'Settings', exact: true }).click();
    await protForm.getByRole('checkbox', { name: /^Protect / }).uncheck();
    await protForm.getByRole('button', { name: 'Save protection' }).click();
    await expectText(protForm.getByRole('status'), /Saved/, 'protection off');
  });

  await step('flag-list-toggle-in-place', async () => {
    await page.getByRole('link', { name: 'Flags', exact: true }).click();
    const sw = page.getByRole('switch', { name: 'Enable theme-config' });
    await sw.focus();
    await page.keyboard.press('Space'); // keyboard: a focused switch toggles with Space
    await page.waitForFunction(() => document.querySelector('[role=switch][aria-label="Enable theme-config"]')?.getAttribute('aria-checked') === 'true');
    await sw.click();
    await page.waitForFunction(() => document.querySelector('[role=switch][aria-label="Enable theme-config"]')?.getAttribute('aria-checked') === 'false');
  });

  await step('trigger-url-flips-the-flag', async () => {
    // theme-config is off (previous step); a trigger that turns it on, called with a plain POST
    await page.getByRole('link', { name: 'Theme configuration' }).click();
    await page.getByRole('tab', { name: 'Triggers' }).click();
    const form = page.getByRole('form', { name: 'Create trigger' });
    await form.getByLabel('Trigger action').selectOption('on');
    await form.getByLabel('Trigger description').fill('e2e: turn on from CI');
    await form.getByRole('button', { name: 'Create trigger' }).click();
    const urlText = (await page.getByLabel('New trigger URL').textContent()).trim();
    if (!/\/api\/v1\/triggers\/run\/syr_/.test(urlText)) throw new Error('trigger URL: ' + urlText);
    const res = await fetch(urlText, { method: 'POST' });
    const body = await res.json();
    if (res.status !== 200 || !body.isEnabled || !body.changed) throw new Error(`trigger run: ${res.status} ${JSON.stringify(body)}`);
    await page.getByRole('button', { name: 'Refresh triggers' }).click();
    await page.waitForFunction(() => document.querySelector('[role=switch][aria-label="Enable theme-config"]')?.getAttribute('aria-checked') === 'true');
    await expectText(page.getByTestId('trigger-count'), /^1$/, 'run count');
    const last = await page.getByRole('row', { name: /Trigger turn on/ }).getByRole('cell').nth(5).textContent();
    if (!/UTC/.test(last)) throw new Error('last triggered: ' + last);
    await shot('flag-triggers');
    // disable the trigger: a second run is refused
    await page.getByRole('switch', { name: /^Enable trigger / }).click();
    await page.waitForFunction(() => document.querySelector('[role=switch][aria-label^="Enable trigger "]')?.getAttribute('aria-checked') === 'false');
    const again = await fetch(urlText, { method: 'POST' });
    if (again.status !== 409) throw new Error('a disabled trigger answered ' + again.status);
    // reset the token: a new URL is shown once, the old one is gone
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: /^Reset token of trigger/ }).click();
    await expectText(page.getByRole('status', { name: 'Trigger URL' }), /New URL of the trigger/, 'new URL notice');
    const newURL = (await page.getByLabel('New trigger URL').textContent()).trim();
    if (newURL === urlText || !/\/triggers\/run\/syr_/.test(newURL)) throw new Error('URL after reset: ' + newURL);
    const old = await fetch(urlText, { method: 'POST' });
    if (old.status !== 404) throw new Error('the old trigger URL answered ' + old.status);
  });

  await step('webhook-send-test-shows-a-delivery', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const form = page.getByRole('form', { name: 'Create webhook' });
    await form.getByLabel('Payload URL').fill('ftp://example.com/hook');
    await form.getByLabel('Webhook name').fill('e2e receiver');
    await form.getByRole('button', { name: 'Create webhook' }).click();
    const u = form.getByLabel('Payload URL');
    await page.waitForFunction((el) => el.getAttribute('aria-invalid') === 'true', await u.elementHandle());
    await expectText(page.locator('#' + (await u.getAttribute('aria-describedby'))), /http/, 'URL error next to the field');
    await u.fill(webhookURL || 'http://127.0.0.1:9/hook');
    await form.getByRole('checkbox', { name: 'flag.toggled' }).check();
    if (webhookSecret) await form.getByLabel('Signing secret (optional)').fill(webhookSecret);
    await form.getByRole('button', { name: 'Create webhook' }).click();
    await expectVisible(page.getByLabel('New signing secret'), 'signing secret shown once');
    if (webhookSecret) await expectText(page.getByLabel('New signing secret'), new RegExp('^' + webhookSecret + '$'), 'the secret typed in');
    await page.getByRole('button', { name: 'Send test to e2e receiver' }).click();
    await expectText(page.getByRole('status', { name: 'Test result of e2e receiver' }), webhookURL ? /delivered: HTTP 200 in \d+ ms/ : /Test/, 'test result');
    const log = page.getByRole('region', { name: 'Delivery log of e2e receiver' });
    const row = log.getByRole('row').filter({ hasText: 'webhook.test' });
    await expectVisible(row, 'the test delivery in the log');
    if (webhookURL) await expectText(row, /delivered\s*HTTP 200.*\d+ ms.*ok from the e2e receiver/, 'status, latency and response excerpt');
    await shot('webhook-deliveries');
    // edit: only flag.toggled and only the dev environment (the compare step's toggle in dev still matches)
    await page.getByRole('button', { name: 'Edit e2e receiver' }).click();
    const ef = page.getByRole('form', { name: 'Edit webhook e2e receiver' });
    await ef.getByRole('checkbox', { name: 'flag.updated' }).uncheck();
    await ef.getByRole('checkbox', { name: /^environment .* \/ dev$/ }).check();
    await ef.getByRole('button', { name: 'Save webhook' }).click();
    const wrow = page.getByRole('row', { name: /^e2e receiver http/ });
    await expectText(wrow, /flag\.toggled.*dev/, 'edited events and filter');
    if (/flag\.updated/.test(await wrow.textContent())) throw new Error('flag.updated still subscribed');
    await shot('webhooks');
    // the organization's audit log has the webhook's creation (no environment)
    await page.getByRole('link', { name: 'Organization audit log' }).click();
    await page.getByLabel('Resource type').selectOption('webhook');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expectVisible(page.getByRole('listitem', { name: 'webhook e2e receiver created' }), 'webhook creation in the organization audit log');
    await shot('org-audit-log');
  });

  await deliverySteps({ page, step, shot, expectVisible }); // delivery progress, impact preview, connected SDKs

  await step('pages-render', async () => {
    const nav = page.getByRole('navigation', { name: 'Sections' });
    for (const [link, heading, file] of [
      ['Segments', 'Segments', 'segments'], ['End users', 'End users', 'end-users'], ['Insights', 'Insights', 'insights'],
      ['Experiments', 'Experiments', 'experiments'], ['SDK keys', /SDK keys/, 'sdk-keys']]) {
      await nav.getByRole('link', { name: link, exact: true }).click();
      await expectVisible(page.getByRole('heading', { name: heading, level: 1 }), link + ' page');
      if (file === 'insights') await expectVisible(page.getByRole('img', { name: /Evaluations of/ }).or(page.getByText('No data in this range.')), 'insights chart');
      if (file === 'sdk-keys') {
        await page.getByRole('button', { name: 'Copy server secret' }).click();
        await expectText(page.locator('.copy-status').first(), /Copied/, 'copy confirmation');
        const shown = await page.getByLabel('Server secret', { exact: true }).textContent();
        const copied = await page.evaluate(() => navigator.clipboard.readText());
        if (!shown || copied !== shown) throw new Error(`clipboard has ${JSON.stringify(copied)}, the page shows ${JSON.stringify(shown)}`);
        // the snippet points at the edge the platform reports, not a guessed port
        await expectText(page.getByLabel('Node SDK snippet'), new RegExp(`streamingUri\\('ws://${edgeAddr.replace(/\./g, '\\.')}'\\)`), 'Node snippet with the reported edge address');
      }
      await shot(file);
    }
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Segments', exact: true }).click();
    await page.getByRole('link', { name: 'Beta testers' }).click();
    await expectVisible(page.getByLabel('Included users (keys)'), 'segment editor');
    await shot('segment-detail');
  });

  await step('insights-chart-and-experiment-results', async () => {
    // data seeded by the Go test through the edge's track endpoint
    const nav = page.getByRole('navigation', { name: 'Sections' });
    await nav.getByRole('link', { name: 'Insights', exact: true }).click();
    await page.getByLabel('Flag').selectOption('checkout-flow');
    await expectVisible(page.getByRole('img', { name: /Evaluations of checkout-flow per variation/ }), 'insights chart');
    await settle();
    await expectText(page.getByRole('row', { name: /^one-page/ }), /one-page\s*[1-9]/, 'evaluations of one-page in the insights table');
    if ((await page.locator('svg polyline').count()) < 2) throw new Error('the chart has fewer than two series');
    await shot('insights');

    await nav.getByRole('link', { name: 'Experiments', exact: true }).click();
    // set up another experiment through the forms
    const mf = page.getByRole('form', { name: 'Create metric' });
    await mf.getByLabel('Metric name').fill('Signup');
    await mf.getByLabel('Event name').fill('signup');
    await mf.getByRole('button', { name: 'Create metric' }).click();
    const xf = page.getByRole('form', { name: 'Create experiment' });
    await expectVisible(xf.getByRole('checkbox', { name: /Signup/ }), 'new metric in the experiment form');
    await xf.getByLabel('Experiment flag').selectOption({ label: 'Welcome banner' });
    await xf.getByRole('button', { name: 'Create experiment' }).click();
    await expectText(xf.getByRole('alert'), /metric/i, 'no metric chosen: error next to the metrics');
    await xf.getByRole('checkbox', { name: /Signup/ }).check();
    await xf.getByRole('button', { name: 'Create experiment' }).click();
    await expectVisible(page.getByRole('row', { name: /Welcome banner.*Signup.*not started/ }), 'new experiment row');
  });

  // the experiment workflow, set up in the UI, driven through the edge (expt.mjs)
  await experimentSteps({ page, step, base, edgeAddr, serverSecret: env('SY_SERVER_SECRET'), suffix: flagKey.replace(/\D/g, ''),
    expectVisible, expectText, shot });

  await step('switch-environment', async () => {
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Flags', exact: true }).click();
    await page.getByLabel('Environment', { exact: true }).selectOption({ label: 'prod' });
    await expectVisible(page.getByRole('link', { name: 'Checkout flow' }), 'prod flags');
    await expectCount(page.getByRole('link', { name: flagName }), 0, 'the new dev flag in prod');
    await page.getByLabel('Environment', { exact: true }).selectOption({ label: 'dev' });
    await expectVisible(page.getByRole('link', { name: flagName }), 'dev flags again');
  });

  await step('clone-and-copy-flag', async () => {
    await page.getByRole('link', { name: flagName }).click();
    await page.getByLabel('Key of the clone').fill(flagKey + '-clone');
    await page.getByRole('button', { name: 'Clone flag' }).click();
    await page.waitForURL(new RegExp('/flags/' + flagKey + '-clone$'));
    await expectText(page.getByTestId('rule-sentence-1'), /plan is one of pro, team/, 'the clone has the rule');
    await page.getByLabel('Copy to environment').selectOption({ label: 'prod' });
    await page.getByRole('button', { name: 'Copy flag' }).click();
    await expectText(page.getByText(/^Copied to prod/), /Copied to prod/, 'copy status');
    await page.getByLabel('Environment', { exact: true }).selectOption({ label: 'prod' });
    await expectVisible(page.getByRole('heading', { name: 'Feature flags' }), 'prod flag list');
    await page.getByLabel('Search flags').fill(flagKey + '-clone');
    await expectVisible(page.getByRole('switch', { name: 'Enable ' + flagKey + '-clone' }), 'the copy in prod');
    await page.getByLabel('Environment', { exact: true }).selectOption({ label: 'dev' });
    await expectVisible(page.getByRole('link', { name: flagName, exact: true }), 'dev flags again');
  });

  await step('archive-and-restore-with-status-filter', async () => {
    await page.getByRole('link', { name: flagKey + '-clone', exact: true }).click();
    await page.getByRole('button', { name: 'Archive' }).click();
    await expectVisible(page.getByText(/This flag is archived/), 'archived notice');
    await expectCount(page.getByRole('button', { name: 'Save changes' }), 0, 'save button on an archived flag');
    await page.getByRole('link', { name: '← Flags' }).click();
    await page.getByLabel('Search flags').fill(flagKey);
    await page.waitForFunction((k) => !document.body.innerText.includes(k + '-clone'), flagKey);
    await page.getByLabel('Status').selectOption('archived');
    await page.getByRole('link', { name: flagKey + '-clone', exact: true }).click();
    await page.getByRole('button', { name: 'Restore' }).click();
    await expectVisible(page.getByRole('button', { name: 'Archive' }), 'archive button after restore');
    await page.getByRole('link', { name: '← Flags' }).click();
    await page.getByLabel('Search flags').fill(flagKey);
    await expectVisible(page.getByRole('link', { name: flagKey + '-clone', exact: true }), 'restored flag in the active list');
  });

  await step('compare-and-copy-across-environments', async () => {
    // the restored clone (off) exists in dev and, copied earlier, in prod (off):
    // turn it on in dev, compare, copy the on/off part, compare again
    await page.getByRole('link', { name: flagKey + '-clone', exact: true }).click();
    const sw = page.getByRole('switch', { name: 'Enable ' + flagKey + '-clone' });
    await sw.click();
    await page.waitForFunction((k) => document.querySelector(`[role=switch][aria-label="Enable ${k}-clone"]`)?.getAttribute('aria-checked') === 'true', flagKey);
    await page.getByRole('tab', { name: 'Compare' }).click();
    await page.getByLabel('Compare with environment').selectOption({ label: 'prod' });
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    await expectText(page.getByTestId('compare-status'), /^1 part differs between dev and prod/, 'one differing part');
    await expectCount(page.getByRole('row', { name: /^Difference in/ }), 1, 'difference rows');
    await expectVisible(page.getByRole('row', { name: 'Difference in On/off' }), 'the on/off difference');
    await shot('flag-compare');
    await page.getByRole('button', { name: 'Copy selected parts to prod' }).click();
    await expectText(page.getByTestId('compare-status'), /^Same in dev and prod/, 'no difference after the copy');
    await expectVisible(page.getByText('Copied On/off to prod.'), 'copy status');
  });

  await step('compare-environments-and-copy-flags', async () => {
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Compare', exact: true }).click();
    await page.getByLabel('Compare with environment').selectOption({ label: 'prod' });
    await page.getByRole('button', { name: 'Compare environments' }).click();
    await expectVisible(page.getByRole('row', { name: `Flag ${flagKey}-clone: same`, exact: true }), 'the clone is the same after the parts copy');
    await expectVisible(page.getByRole('row', { name: `Flag ${flagKey}: only in dev`, exact: true }), 'the e2e flag only in dev');
    await page.getByRole('checkbox', { name: 'Copy ' + flagKey, exact: true }).check();
    await page.getByRole('button', { name: 'Copy 1 flag to prod' }).click();
    await expectText(page.getByRole('status').filter({ hasText: flagKey }), new RegExp('^' + flagKey + ': created$'), 'copy result');
    await expectVisible(page.getByRole('row', { name: `Flag ${flagKey}: differs: on/off`, exact: true }), 'created off in prod: only on/off differs');
    await shot('env-compare');
  });

  await step('stale-badge-and-code-references', async () => {
    // the Go test uploaded code references that mention checkout-flow and the
    // archived legacy-banner only
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Flags', exact: true }).click();
    await page.getByLabel('Status').selectOption('archived');
    const risk = page.getByTestId('stale-legacy-banner');
    await expectText(risk.locator('summary'), /^risk$/, 'risk badge of the archived flag still in code');
    await risk.locator('summary').click();
    await expectText(risk, /still referenced \d+ times in code/, 'the reason, expanded');
    await shot('flags-stale');
    await page.getByLabel('Status').selectOption('');
    // the report is loaded (the risk badge above came from it): the demo flags,
    // created minutes ago and not in the uploaded code, are not stale yet
    await expectVisible(page.getByRole('link', { name: 'Checkout flow' }), 'the flag list');
    await expectCount(page.getByTestId('stale-welcome-banner'), 0, 'a brand-new flag badged stale');
    await expectCount(page.getByTestId('stale-checkout-flow').filter({ hasText: /no code references/ }), 0, 'checkout-flow flagged for missing references');
    await page.getByRole('link', { name: 'Checkout flow' }).click();
    await page.getByRole('tab', { name: 'Code references' }).click();
    const ref = page.getByRole('listitem', { name: 'acme/shop src/checkout/flow.ts:42' });
    await expectVisible(ref, 'the code reference');
    await expectText(ref, /main.*src\/checkout\/flow\.ts:42[\s\S]*42\s+if \(client\.variation\('checkout-flow'/, 'branch, file:line and context');
    await shot('flag-code-refs');
  });

  // rule cards, explain, playground, end users, audit diffs (e2e/target.mjs)
  await targetSteps({ page, step, shot, expectVisible, expectText, expectCount, base, flagKey });

  await step('access-token-created', async () => {
    await page.getByRole('link', { name: 'Access tokens' }).click();
    const form = page.getByRole('form', { name: 'Create token' });
    await form.getByLabel('Token name').fill('ci');
    await form.getByLabel('Token role').selectOption('editor');
    await form.getByRole('button', { name: 'Create token' }).click();
    await expectVisible(page.getByLabel('New token value'), 'new token value');
    await shot('tokens');
  });

  await step('invite-viewer-member', async () => {
    await page.getByRole('link', { name: 'Members' }).click();
    const form = page.getByRole('form', { name: 'Invite member' });
    await form.getByLabel('Member email').fill(viewer.email);
    await form.getByLabel('Member role').selectOption('viewer');
    await form.getByRole('button', { name: 'Invite member' }).click();
    const link = page.getByLabel('Invitation link', { exact: true });
    await expectVisible(link, 'one-time invitation link');
    const url = ((await link.textContent()) || '').trim();
    if (!/\/accept#token=syi_/.test(url)) throw new Error(`invitation link ${JSON.stringify(url)}`);
    await expectVisible(page.getByRole('table', { name: 'Open invitations' }).getByRole('cell', { name: viewer.email }), 'open invitation');
    await shot('members');
    await logout();
    // The invitee opens the link, chooses a password and signs in.
    await page.goto(url);
    const acc = page.getByRole('form', { name: 'Accept invitation' });
    await acc.getByLabel('Your name').fill('Vera Viewer');
    await acc.getByLabel('New password').fill(viewer.password);
    await acc.getByRole('button', { name: 'Accept invitation' }).click();
    await expectText(acc.getByRole('status'), /Sign in as/, 'invitation accepted');
    await shot('accept-invitation');
  });

  // accessibility (axe), layout at 390 px, keyboard, screenshots of every page: a11y.mjs
  await a11yTour({ page, step, base, shots, signIn: () => login(admin), signOut: logout });

  // focus after navigation; deleting an organization (e2e/orgdelete.mjs)
  await orgDeleteSteps({ page, step, base, suffix: flagKey.replace(/\D/g, ''), signIn: () => login(admin), signOut: logout, expectVisible, expectText, shot });

  await step('viewer-sees-no-edit-buttons', async () => {
    await login(viewer);
    await expectText(page.getByTestId('role'), /viewer/, 'role badge');
    await expectVisible(page.getByRole('link', { name: flagName }), 'flag list');
    await expectCount(page.getByRole('button', { name: 'Create flag' }), 0, 'Create flag buttons');
    await expectCount(page.getByRole('switch'), 0, 'toggle switches');
    await expectCount(page.getByRole('link', { name: 'Access tokens' }), 0, 'Access tokens link');
    await shot('viewer-flags');
    await page.getByRole('link', { name: flagName }).click();
    await expectVisible(page.getByRole('heading', { name: 'Rules' }), 'flag detail');
    for (const name of ['Save changes', 'Add rule', 'Archive', 'Clone flag', 'Copy flag', 'Add condition to rule 1', 'Remove rule 1', 'Move rule 1 down', 'Discard changes']) {
      await expectCount(page.getByRole('button', { name }), 0, `"${name}" buttons`);
    }
    await expectCount(page.getByRole('switch'), 0, 'toggle switches on the flag');
    await page.getByRole('tab', { name: 'History' }).click();
    await expectVisible(page.getByRole('list', { name: 'Versions' }), 'versions for a viewer');
    await expectCount(page.getByRole('button', { name: /^Restore version/ }), 0, 'restore buttons for a viewer');
    await page.getByRole('tab', { name: 'Targeting' }).click();
    await page.getByRole('button', { name: 'Details of rule 1' }).click();
    if (!(await page.getByLabel('Rule 1 name').evaluate((el) => el.readOnly))) throw new Error('rule name is editable for a viewer');
    await shot('viewer-flag');
    await page.getByRole('tab', { name: 'Triggers' }).click();
    await expectVisible(page.getByRole('heading', { name: 'Triggers' }), 'triggers tab');
    await expectCount(page.getByRole('button', { name: /^(Create trigger|Reset token|Delete)/ }), 0, 'trigger edit buttons');
    await expectCount(page.getByRole('switch'), 0, 'trigger switches');
    await page.getByRole('tab', { name: 'Schedules' }).click();
    await expectVisible(page.getByRole('heading', { name: 'Scheduled changes' }), 'schedules tab');
    await expectCount(page.getByRole('button', { name: /^(Schedule this draft|Cancel)/ }), 0, 'schedule edit buttons');
    await page.getByRole('tab', { name: 'Compare' }).click();
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    await expectVisible(page.getByTestId('compare-status'), 'comparison');
    await expectCount(page.getByRole('button', { name: /^Copy selected/ }), 0, 'copy parts button');
    await expectCount(page.getByRole('checkbox'), 0, 'part checkboxes');
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Compare', exact: true }).click();
    await page.getByRole('button', { name: 'Compare environments' }).click();
    await expectVisible(page.getByRole('table', { name: 'Flags compared' }), 'environment comparison for a viewer');
    await expectCount(page.getByRole('checkbox'), 0, 'copy checkboxes');
    await expectCount(page.getByRole('button', { name: /^Copy/ }), 0, 'copy flags button');
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Audit log', exact: true }).click();
    await expectVisible(page.getByRole('list', { name: 'Audit entries' }), 'audit log for a viewer');
    await nav2(page, 'Settings');
    await expectVisible(page.getByRole('form', { name: 'Protection' }), 'settings for a viewer');
    for (const name of ['Rename environment', 'Save protection', 'Delete environment…']) {
      const b = page.getByRole('button', { name, exact: true });
      if (!(await b.isDisabled())) throw new Error(`"${name}" is enabled for a viewer`);
      if (!/env:manage/.test((await b.getAttribute('title')) || '')) throw new Error(`disabled "${name}" does not say why`);
    }
    if (!(await page.getByRole('checkbox', { name: /Require a change comment/ }).isDisabled())) throw new Error('the comment rule is editable for a viewer');
    await expectCount(page.getByRole('link', { name: 'Webhooks' }), 0, 'Webhooks link');
    for (const link of ['Segments', 'Experiments', 'SDK keys']) {
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: link, exact: true }).click();
      await expectVisible(page.getByRole('heading', { level: 1 }), link);
      await expectCount(page.getByRole('button', { name: /^(Create|Rotate|Start|Stop|Delete)/ }), 0, `edit buttons on ${link}`);
    }
    // a viewer has no secret:read: the SDK keys page says so and shows none
    await expectVisible(page.getByText(/may not see this environment's SDK secrets/), 'no-secrets notice');
    await expectCount(page.getByLabel('Server secret'), 0, 'server secret for a viewer');
    await page.getByRole('link', { name: 'Members' }).click();
    await expectVisible(page.getByRole('cell', { name: viewer.email }), 'member list');
    await expectCount(page.getByRole('button', { name: /^(Invite member|Remove|Revoke)/ }), 0, 'member edit buttons');
  });

  if (sso.issuer) await step('sso-sign-in-lands-with-group-rights', async () => {
    await logout();
    await page.goto(base + '/?org=' + encodeURIComponent(sso.org));
    await page.getByRole('button', { name: 'Sign in with Corp ID' }).click();
    await page.waitForURL((u) => u.toString().startsWith(sso.issuer + '/'));
    await page.getByLabel('Login').fill(sso.login);
    await page.getByLabel('Password').fill('any-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // back in Switchyard: a new viewer account of the organization...
    await page.waitForURL((u) => u.toString().startsWith(base + '/') && !u.pathname.startsWith('/sso'));
    await expectText(page.getByTestId('role'), /viewer/, 'role badge after single sign-on');
    // ...in the group its "groups" claim maps to, which may toggle in dev
    await page.goto(`${base}/envs/${sso.dev}/flags`);
    const sw = page.getByRole('switch', { name: 'Enable sso-e2e-switch' });
    await expectVisible(sw, 'toggle switch in dev (group right)');
    await sw.click();
    await page.waitForFunction(() => document.querySelector('[role=switch][aria-label="Enable sso-e2e-switch"]')?.getAttribute('aria-checked') === 'true');
    await shot('sso-dev-flags');
    await page.goto(`${base}/envs/${sso.prod}/flags`);
    await expectVisible(page.getByText('SSO e2e switch').or(page.getByRole('link', { name: /sso-e2e-switch|SSO e2e switch/ })), 'flag list in prod');
    await expectCount(page.getByRole('switch'), 0, 'toggle switches in prod');
    await page.getByRole('link', { name: 'Single sign-on' }).click();
    await expectVisible(page.getByRole('cell', { name: /Corp ID/ }), 'the organization\'s single sign-on page');
    await shot('sso-org-page');
  });
  if (sso.issuer) await governanceSteps({ page, step, base, admin, viewer, sso, login, logout, expectVisible, expectText, expectCount, shot });
} catch {
  // reported by step()
} finally {
  report({ done: true, passed, failed });
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
