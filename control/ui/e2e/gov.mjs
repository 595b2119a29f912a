// gov.mjs: browser steps of the governance and settings pages (issue 16,
// issue 20 item 2), run by e2e.mjs after the single sign-on step with its
// helpers. Starts signed in as the SSO member (a viewer in the group
// "sso-engineering", which may toggle in dev); ends signed in as the admin.
//
// 1. the SSO member sees the settings of dev disabled, each saying why;
// 2. the admin writes a group and a policy by typing (a bad pattern is
//    refused next to its line), giving sso-engineering flag:write in dev;
// 3. the admin creates, renames, rotates the secret of and deletes (typing
//    its key) an environment, and edits a member's role (a refusal shows);
// 4. the admin protects dev (approvers: the new group); the SSO member (signed in through the OpenID
//    provider again) proposes a flag change, and cannot approve it; the
//    admin (a second account) approves and applies it; the flag changed.
export async function governanceSteps(h) {
  const { page, step, base, admin, viewer, sso, login, logout, expectVisible, expectText, expectCount, shot } = h;
  const nav = (name) => page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true }).click();
  // disabledWhy: the control is disabled and its title says why (polled: the
  // permissions arrive after the page)
  const disabledWhy = async (loc, re, what) => {
    await expectVisible(loc, what);
    const deadline = Date.now() + 15000;
    let t = '';
    for (;;) {
      t = (await loc.getAttribute('title')) || '';
      if (re.test(t) && await loc.isDisabled()) return;
      if (Date.now() > deadline) throw new Error(`${what}: disabled=${await loc.isDisabled()}, title ${JSON.stringify(t)} does not match ${re}`);
      await page.waitForTimeout(100);
    }
  };
  // fieldError: the API's refusal is shown next to the input (aria-describedby)
  const fieldError = async (input, re, what) => {
    await page.waitForFunction((el) => el.getAttribute('aria-invalid') === 'true', await input.elementHandle());
    await expectText(page.locator('#' + (await input.getAttribute('aria-describedby'))), re, what);
  };
  const ssoSignIn = async () => {
    await page.goto(base + '/?org=' + encodeURIComponent(sso.org));
    await page.getByRole('button', { name: 'Sign in with Corp ID' }).click();
    // the provider may remember the session and send the browser straight back
    const form = page.getByLabel('Login');
    await form.or(page.getByTestId('role')).first().waitFor();
    if (await form.isVisible()) {
      await form.fill(sso.login);
      await page.getByLabel('Password').fill('any-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
    await expectText(page.getByTestId('role'), /viewer/, 'role badge after single sign-on');
  };
  const description = 'proposed by the SSO member ' + Date.now();
  let crURL = '';

  await step('sso-member-sees-settings-disabled-with-reasons', async () => {
    await page.goto(`${base}/envs/${sso.dev}/settings`);
    await expectVisible(page.getByRole('heading', { name: /^Settings · /, level: 1 }), 'settings page');
    await disabledWhy(page.getByRole('button', { name: 'Rename environment' }), /env:manage action on project\/.+\/env\/dev/, 'Rename environment');
    await disabledWhy(page.getByRole('button', { name: 'Save protection' }), /env:manage/, 'Save protection');
    await disabledWhy(page.getByRole('button', { name: 'Rotate the server secret' }), /secret:rotate/, 'Rotate');
    await expectVisible(page.getByText(/may not see this environment's SDK secrets/), 'no secrets without secret:read');
    if (!(await page.getByLabel('Environment name').evaluate((el) => el.readOnly))) throw new Error('the name is editable');
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Policies' }).click();
    await disabledWhy(page.getByRole('button', { name: 'Create policy' }), /access:manage/, 'Create policy for a viewer');
    await shot('settings-viewer');
    await logout();
  });

  await step('groups-and-policies-typed-by-an-admin', async () => {
    await login(admin);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Groups' }).click();
    await expectVisible(page.getByRole('heading', { name: 'Groups', level: 1 }), 'groups page');
    await expectVisible(page.getByRole('row', { name: 'Group sso-engineering' }), 'the SSO group');
    await page.getByRole('button', { name: 'Create group' }).click();
    let form = page.getByRole('form', { name: 'Create group' });
    await form.getByRole('button', { name: 'Create group' }).click(); // no name
    await fieldError(form.getByLabel('Group name'), /.+/, 'empty group name refused next to the field');
    await form.getByLabel('Group name').fill('release managers');
    await form.getByLabel('Group description').fill('approve production changes');
    await form.getByRole('checkbox', { name: new RegExp(admin.email.replace(/\./g, '\\.')) }).check();
    await form.getByRole('button', { name: 'Create group' }).click();
    const row = page.getByRole('row', { name: 'Group release managers' });
    await expectText(row, new RegExp(admin.email.replace(/\./g, '\\.')), 'the new group with its member');
    await shot('groups');

    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Policies' }).click();
    await expectVisible(page.getByRole('region', { name: 'Policy engineering toggles dev' }), 'the seeded policy');
    await page.getByRole('button', { name: 'Create policy' }).click();
    form = page.getByRole('form', { name: 'Create policy' });
    await form.getByLabel('Policy name').fill('engineering writes dev');
    await form.getByLabel('Statement 1 effect').selectOption('allow');
    await form.getByRole('checkbox', { name: 'flag:write', exact: true }).check();
    const res = form.getByLabel('Statement 1 resources (one pattern per line)');
    await res.fill('project/*/env/dev\nproject/*/env/');
    await form.getByRole('checkbox', { name: 'Group sso-engineering' }).check();
    await form.getByRole('button', { name: 'Create policy' }).click();
    await fieldError(res, /line 2: .*empty/, 'bad pattern refused next to its line');
    await res.fill('project/*/env/dev');
    await form.getByRole('button', { name: 'Create policy' }).click();
    const card = page.getByRole('region', { name: 'Policy engineering writes dev' });
    await expectText(card, /allow\s*flag:write on project\/\*\/env\/dev[\s\S]*Attached to: group sso-engineering/, 'the policy as a sentence');
    await shot('policies');
  });

  await step('environment-settings-rename-rotate-delete', async () => {
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Organization settings' }).click();
    await expectVisible(page.getByRole('heading', { name: /^Settings · /, level: 1 }), 'organization settings');
    await shot('org-settings');
    await page.getByRole('region', { name: 'Projects' }).getByRole('link').first().click();
    await expectVisible(page.getByRole('heading', { name: /^Project settings · /, level: 1 }), 'project settings');
    // a project with environments cannot be deleted: the button says why
    await disabledWhy(page.getByRole('button', { name: 'Delete project…' }), /Delete its \d+ environment/, 'Delete project');
    await page.getByLabel('New environment name').fill('Scratch e2e');
    await page.getByRole('button', { name: 'Create environment' }).click();
    await page.getByRole('link', { name: 'Scratch e2e' }).click();
    await expectVisible(page.getByRole('heading', { name: 'Settings · Scratch e2e', level: 1 }), 'the new environment\'s settings');
    await shot('env-settings');
    const rename = page.getByRole('form', { name: 'Rename environment' });
    await rename.getByLabel('Environment name').fill('');
    await rename.getByRole('button', { name: 'Rename environment' }).click();
    await fieldError(rename.getByLabel('Environment name'), /.+/, 'empty environment name refused next to the field');
    await rename.getByLabel('Environment name').fill('Scratch renamed');
    await rename.getByRole('button', { name: 'Rename environment' }).click();
    await expectText(rename.getByRole('status'), /Saved as Scratch renamed/, 'renamed');
    await expectVisible(page.getByRole('heading', { name: 'Settings · Scratch renamed', level: 1 }), 'the new name in the title');
    // rotate the server secret; the old one works for one more hour
    await page.getByLabel('Old server secret stops working').selectOption('1h');
    await page.getByRole('button', { name: 'Rotate the server secret' }).click();
    await expectVisible(page.getByText(/New server secret added; the old one works until 20\d\d-/), 'rotation with an expiry');
    await expectText(page.getByRole('table', { name: 'SDK secrets' }), /current[\s\S]*works until 20\d\d-/, 'the old secret listed with its expiry');
    // delete: what is lost, then the key typed
    const key = await rename.getByLabel('Environment key').inputValue();
    await page.getByRole('button', { name: 'Delete environment…' }).click();
    await expectText(page.getByRole('list', { name: 'What is lost' }), /flag\(s\)[\s\S]*SDK secrets/, 'what is lost');
    const del = page.getByRole('button', { name: 'Delete environment Scratch renamed' });
    await page.getByLabel(`Type ${key} to confirm`).fill('scratch');
    await disabledWhy(del, /Type .* exactly/, 'delete before the key is typed');
    await page.getByLabel(`Type ${key} to confirm`).fill(key);
    await del.click();
    await page.waitForURL((u) => /\/orgs\/[^/]+$/.test(u.pathname));
    await expectVisible(page.getByRole('link', { name: 'Project settings' }), 'the organization page');
    await expectCount(page.getByRole('link', { name: 'Scratch renamed' }), 0, 'the deleted environment');
  });

  await step('member-role-edited-and-refusal-shown', async () => {
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Members' }).click();
    const role = page.getByLabel('Role of ' + viewer.email);
    await role.selectOption('editor');
    await expectText(page.getByRole('row', { name: new RegExp(viewer.email.replace(/\./g, '\\.')) }).getByRole('status'), /now editor/, 'role changed');
    await page.getByLabel('Role of ' + viewer.email).selectOption('viewer');
    await expectText(page.getByRole('row', { name: new RegExp(viewer.email.replace(/\./g, '\\.')) }).getByRole('status'), /now viewer/, 'role back');
    // the only owner cannot step down: the API's refusal is shown in the row
    const me = page.getByLabel('Role of ' + admin.email);
    if (await me.inputValue() === 'owner') {
      await me.selectOption('admin');
      await expectText(page.getByRole('row', { name: new RegExp(admin.email.replace(/\./g, '\\.')) }).getByRole('alert'), /owner/, 'last owner refusal');
      if (await page.getByLabel('Role of ' + admin.email).inputValue() !== 'owner') throw new Error('the refused role stays selected');
    }
    await shot('members-roles');
  });

  await step('change-request-across-two-accounts-via-sso', async () => {
    // the admin protects dev: one approval
    await page.goto(`${base}/envs/${sso.dev}/settings`);
    const prot = page.getByRole('form', { name: 'Protection' });
    await prot.getByRole('checkbox', { name: /^Protect / }).check();
    await prot.getByLabel('Required approvals').fill('1');
    await prot.getByRole('checkbox', { name: 'Group release managers' }).check(); // only they approve
    await prot.getByRole('button', { name: 'Save protection' }).click();
    await expectText(prot.getByRole('status'), /Saved/, 'dev protected');
    await page.reload();
    if (!(await prot.getByRole('checkbox', { name: 'Group release managers' }).isChecked())) throw new Error('the approvers were not kept');
    await logout();
    // the SSO member, now allowed flag:write in dev through its group, proposes
    await ssoSignIn();
    await page.goto(`${base}/envs/${sso.dev}/flags/sso-e2e-switch`);
    await page.getByLabel('Description', { exact: true }).fill(description);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expectText(page.getByRole('alert').filter({ hasText: 'protected' }), /change request/, 'save refused in a protected environment');
    await page.getByRole('button', { name: 'Propose as a change request' }).click();
    await expectVisible(page.getByRole('heading', { name: /^Change request: flag/ }), 'change request page');
    crURL = page.url();
    await disabledWhy(page.getByRole('button', { name: 'Approve', exact: true }), /You proposed this change/, "the author's Approve");
    await shot('change-request-author');
    await logout();
    // a second account approves and applies
    await login(admin);
    await page.goto(crURL);
    await expectText(page.locator('.badge').first(), /^open$/, 'open request');
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await expectText(page.locator('.badge').first(), /^approved$/, 'approved');
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await expectText(page.locator('.badge').first(), /^applied$/, 'applied');
    await shot('change-request-applied');
    await page.goto(`${base}/envs/${sso.dev}/flags/sso-e2e-switch`);
    const d = page.getByLabel('Description', { exact: true });
    await expectVisible(d, 'flag page');
    const got = await d.inputValue();
    if (got !== description) throw new Error(`the flag's description after the request applied: ${JSON.stringify(got)}`);
    // unprotect dev again
    await page.goto(`${base}/envs/${sso.dev}/settings`);
    await prot.getByRole('checkbox', { name: /^Protect / }).uncheck();
    await prot.getByRole('button', { name: 'Save protection' }).click();
    await expectText(prot.getByRole('status'), /Saved/, 'dev unprotected');
  });
}
