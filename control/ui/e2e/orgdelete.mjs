// orgdelete.mjs: focus after client-side navigation, and deleting an
// organization from its settings page (typed confirmation), run by e2e.mjs
// with its helpers. Starts and ends signed out.

export async function orgDeleteSteps({ page, step, base, suffix, signIn, signOut, expectVisible, expectText, shot }) {
  await step('route-change-moves-focus-to-heading', async () => {
    await signIn();
    const nav = page.getByRole('navigation', { name: 'Sections' });
    for (const [link, heading] of [['Segments', 'Segments'], ['Organization settings', /^Settings · /]]) {
      await nav.getByRole('link', { name: link, exact: true }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      try {
        await page.waitForFunction(() => {
          const a = document.activeElement;
          return a && a.tagName === 'H1' && a.closest('main') && document.title === a.textContent.trim() + ' · Switchyard';
        }, null, { timeout: 5000 });
      } catch {
        const at = await page.evaluate(() => ({ el: document.activeElement?.outerHTML.slice(0, 80), title: document.title }));
        throw new Error(`after following "${link}" by keyboard focus is on ${at.el} (title ${JSON.stringify(at.title)}), want the page's h1`);
      }
    }
    // the next Tab goes into the page, not back to the top
    await page.keyboard.press('Tab');
    if (!(await page.evaluate(() => !!document.activeElement?.closest('main')))) throw new Error('Tab after the heading left the page');
  });

  await step('org-delete-refused-while-projects-exist', async () => {
    const b = page.getByRole('button', { name: 'Delete organization…', exact: true });
    await expectVisible(b, 'danger zone of the organization');
    if (!(await b.isDisabled())) throw new Error('"Delete organization…" is enabled while the organization has projects');
    if (!/project/.test((await b.getAttribute('title')) || '')) throw new Error('the disabled delete button does not name the projects');
  });

  await step('org-delete-throwaway-by-typing-its-name', async () => {
    const name = `Throwaway ${suffix}`;
    const org = await page.evaluate(async (name) => {
      const r = await fetch('/api/v1/orgs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + localStorage.getItem('sy.token') },
        body: JSON.stringify({ name }),
      });
      if (!r.ok) throw new Error(`create organization: ${r.status} ${await r.text()}`);
      return (await r.json()).id;
    }, name);
    await page.goto(`${base}/orgs/${org}/settings`);
    await page.getByRole('heading', { level: 1, name: `Settings · ${name}` }).waitFor();
    // the organization switcher's options (an <option> is never "visible")
    const inSwitcher = () => page.evaluate(() => {
      const sel = [...document.querySelectorAll('select')].find((s) => s.labels?.[0]?.textContent?.trim() === 'Organization');
      return sel ? [...sel.options].map((o) => o.textContent) : [];
    });
    if (!(await inSwitcher()).includes(name)) throw new Error(`the new organization is not in the switcher: ${await inSwitcher()}`);
    await page.getByRole('button', { name: 'Delete organization…', exact: true }).click();
    await expectText(page.getByRole('list', { name: 'What is lost' }), /access tokens.*webhooks.*audit log/s, 'what is lost');
    const del = page.getByRole('button', { name: `Delete organization ${name}`, exact: true });
    await page.getByLabel(`Type ${name} to confirm`).fill(name.slice(0, -1));
    if (!(await del.isDisabled())) throw new Error('the delete button is enabled before the name is typed exactly');
    await page.getByLabel(`Type ${name} to confirm`).fill(name);
    await shot('org-delete');
    await del.click();
    await page.waitForURL((u) => !u.pathname.startsWith(`/orgs/${org}`));
    await page.locator('main h1').first().waitFor();
    await expectVisible(page.getByRole('heading', { level: 1, name: 'Feature flags' }), 'the flag list of the last environment');
    const left = await inSwitcher();
    if (!left.length || left.includes(name)) throw new Error(`organization switcher after the deletion: ${JSON.stringify(left)}`);
    const status = await page.evaluate(async (org) => (await fetch(`/api/v1/orgs/${org}`, { headers: { Authorization: 'Bearer ' + localStorage.getItem('sy.token') } })).status, org);
    if (status !== 403 && status !== 404) throw new Error(`GET the deleted organization: ${status}`);
    await signOut();
  });
}
