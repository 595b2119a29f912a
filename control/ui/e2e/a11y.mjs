// a11y.mjs: the accessibility and layout tour of the operator UI, run by
// e2e.mjs after the main flow (so the pages have data) with its step().
//
// It finds every page (the section navigation, the organization pages and
// the first link of every detail route found on them, plus the sign-in
// page) and on each:
//   - at 1280 px (light) and 390 px: axe-core (@axe-core/playwright, WCAG 2.1
//     A/AA rules): no serious or critical violation;
//   - in dark mode (prefers-color-scheme: dark): axe's color-contrast rule;
//   - at 390 px (and, without axe, 360 px): no key control (top bar, headings, buttons, links, fields,
//     switches) outside the viewport, none overlapping another, and the page
//     does not scroll sideways;
//   - a full-page screenshot per width and scheme: SY_ARTIFACTS/pages/<page>-1280.png,
//     <page>-390.png, <page>-dark.png, <page>-360.png.
// And by keyboard: the skip link, visible focus, the collapsed navigation at
// 390 px, and a dialog that traps focus, closes with Escape and gives focus back.
// Each step collects every problem of its pass before it fails, so one run
// shows them all. SY_A11Y_TIMING=1 prints how long each page took.
import AxeBuilder from '@axe-core/playwright';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
const SMALLEST = { width: 360, height: 740 };
const MAX_PAGES = 60;

// settled waits until no spinner shows and nothing is busy.
const settled = (page) => page.waitForFunction(() => !document.querySelector('.loading, [aria-busy="true"]'), null, { timeout: 15000 });

// shape turns a path into its route: /envs/e1/flags/x -> /envs/:env/flags/:id.
function shape(path) {
  const p = path.split('?')[0].split('/');
  if (p[1] === 'envs' || p[1] === 'orgs') p[2] = p[1] === 'envs' ? ':env' : ':org';
  for (let i = 4; i < p.length; i++) p[i] = ':id';
  return p.join('/');
}
const fileName = (s) => s.replace(/^\//, '').replace(/:/g, '').replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '') || 'home';

// axe runs the WCAG 2.1 A/AA rules (only `rules` when given; without the
// rules in `skip`) and returns the serious and critical violations.
async function axe(page, { rules, skip } = {}) {
  let b = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']);
  if (rules) b = new AxeBuilder({ page }).withRules(rules);
  if (skip) b = b.disableRules(skip);
  const r = await b.analyze();
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(' | ')}`);
}

// layout reports key controls outside the viewport or on top of each other,
// and a page that scrolls sideways.
export function layout(page) {
  return page.evaluate(() => {
    const out = [];
    const W = window.innerWidth;
    const name = (el) => {
      const t = (el.getAttribute('aria-label') || el.textContent || el.getAttribute('name') || '').trim().replace(/\s+/g, ' ').slice(0, 40);
      return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : ''} "${t}"`;
    };
    // inside a container that scrolls sideways on purpose (code, wide diffs)
    const inScroller = (el) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const ox = getComputedStyle(a).overflowX;
        if ((ox === 'auto' || ox === 'scroll' || ox === 'hidden') && a.scrollWidth > a.clientWidth + 1) return true;
      }
      return false;
    };
    const sel = '.topbar select, .topbar button, .topbar a, main h1, main button, main a[href], main input:not([type=hidden]), main select, main textarea, main [role=switch], main summary';
    const els = [...document.querySelectorAll(sel)].filter((el) => {
      if (!el.getClientRects().length) return false;
      const cs = getComputedStyle(el);
      if (cs.visibility === 'hidden' || el.closest('.sr-only, details:not([open]) > :not(summary)')) return false;
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0;
    });
    const boxes = els.map((el) => ({ el, r: el.getBoundingClientRect() }));
    for (const { el, r } of boxes) {
      if ((r.left < -1 || r.right > W + 1) && !inScroller(el)) out.push(`cut off: ${name(el)} spans x ${Math.round(r.left)}..${Math.round(r.right)} of ${W}`);
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
        const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
        const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
        if (w > 2 && h > 2) out.push(`overlap: ${name(a.el)} and ${name(b.el)} (${Math.round(w)}x${Math.round(h)} px)`);
      }
    }
    const sw = document.documentElement.scrollWidth;
    if (sw > W + 1) {
      const over = (el) => el.getBoundingClientRect().right > W + 1;
      const leaves = (all) => all.filter((el) => ![...el.children].some(over));
      let wide = leaves([...document.querySelectorAll('body *')].filter((el) => over(el) && !inScroller(el)));
      // else something positioned escapes a scrolling box (its containing block is outside it)
      if (!wide.length) wide = leaves([...document.querySelectorAll('body *')].filter(over));
      wide = wide.slice(0, 3).map(name);
      out.push(`the page scrolls sideways: ${sw} px wide in a ${W} px window (widest: ${wide.join(', ')})`);
    }
    return out.slice(0, 12);
  });
}

// signIn signs the administrator in (the main flow ends signed out);
// signOut ends the session again at the end of the tour.
export async function a11yTour({ page, step, base, shots, signIn, signOut }) {
  const dir = join(shots, 'pages');
  mkdirSync(dir, { recursive: true });
  const pages = []; // {path, shape, name}
  let envId = '';

  // open shows a page: in-app (history + popstate, as a click on a link)
  // when the application is loaded, else by loading it.
  const open = async (path) => {
    const inApp = await page.evaluate(async (p) => {
      if (!document.querySelector('.shell')) return false;
      history.pushState(null, '', p);
      dispatchEvent(new PopStateEvent('popstate'));
      // the application renders the new route before the next frames
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return true;
    }, path).catch(() => false);
    if (!inApp) await page.goto(base + path);
    await page.locator('h1').first().waitFor({ state: 'visible', timeout: 15000 });
    await settled(page);
  };

  await step('a11y-find-every-page', async () => {
    await page.setViewportSize(WIDE);
    await signIn();
    await page.waitForURL(/\/envs\/[^/]+\/flags/, { waitUntil: 'commit' });
    envId = new URL(page.url()).pathname.split('/')[2];
    const seen = new Set();
    const add = (path) => {
      const s = shape(path);
      if (seen.has(s) || pages.length >= MAX_PAGES) return false;
      seen.add(s);
      pages.push({ path, shape: s, name: fileName(s) });
      return true;
    };
    const links = async (scope) => page.locator(scope).evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    const nav = (await links('nav[aria-label="Sections"] a[href]')).filter((h) => h && h.startsWith('/'));
    if (nav.length < 5) throw new Error(`only ${nav.length} links in the section navigation`);
    for (const h of nav) add(h);
    const org = nav.find((h) => h.startsWith('/orgs/'));
    if (org) add(org.split('/').slice(0, 3).join('/'));
    // detail routes: the first link of each new route found on the pages
    for (let i = 0; i < pages.length && pages.length < MAX_PAGES; i++) {
      await open(pages[i].path);
      for (const h of await links('main a[href^="/envs/"], main a[href^="/orgs/"]')) {
        if (h && !h.includes('#')) add(h.split('?')[0]);
      }
    }
    for (const want of ['/envs/:env/flags', '/envs/:env/flags/:id', '/envs/:env/segments/:id']) {
      if (!seen.has(want)) throw new Error(`no page of route ${want} found (routes: ${[...seen].join(' ')})`);
    }
  });

  const pass = (name, viewport, { scheme = 'light', rules, skip, checkLayout = false, noAxe = false } = {}) => step(name, async () => {
    const problems = [];
    await page.setViewportSize(viewport);
    await page.emulateMedia({ colorScheme: scheme });
    const suffix = scheme === 'dark' ? 'dark' : String(viewport.width);
    try {
      for (const p of pages) {
        try {
          const t0 = Date.now();
          await open(p.path);
          const t1 = Date.now();
          if (!noAxe) for (const v of await axe(page, { rules, skip })) problems.push(`${p.shape} @${suffix}: ${v}`);
          const t2 = Date.now();
          if (checkLayout) for (const v of await layout(page)) problems.push(`${p.shape} @${suffix}: ${v}`);
          await page.evaluate(() => window.scrollTo(0, 0));
          await page.screenshot({ path: join(dir, `${p.name}-${suffix}.png`), fullPage: true });
          if (process.env.SY_A11Y_TIMING) console.log(`a11y ${p.shape} @${suffix}: open ${t1 - t0} ms, axe ${t2 - t1} ms, rest ${Date.now() - t2} ms`);
        } catch (e) {
          problems.push(`${p.shape} @${suffix}: ${String(e && e.message || e).split('\n')[0]}`);
        }
      }
      // the sign-in page, signed out (the session is put back afterwards)
      const token = await page.evaluate(() => localStorage.getItem('sy.token'));
      await page.evaluate(() => localStorage.removeItem('sy.token'));
      try {
        await page.goto(base + '/');
        await page.getByRole('button', { name: 'Sign in' }).waitFor();
        if (!noAxe) for (const v of await axe(page, { rules, skip })) problems.push(`sign-in @${suffix}: ${v}`);
        if (checkLayout) for (const v of await layout(page)) problems.push(`sign-in @${suffix}: ${v}`);
        await page.screenshot({ path: join(dir, `sign-in-${suffix}.png`), fullPage: true });
      } finally {
        await page.evaluate((t) => localStorage.setItem('sy.token', t), token);
      }
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
      await page.setViewportSize(WIDE);
    }
    if (problems.length) throw new Error(`${problems.length} problem(s) on ${pages.length + 1} pages:\n  ` + problems.join('\n  '));
  });

  // axe is slow on a busy machine: the full rule set once per page; at
  // 390 px the same DOM but for the collapsed navigation, so without the
  // colour contrast (same colours, checked at 1280 px); in dark mode only
  // the colour contrast (the one thing the scheme changes)
  await pass('a11y-axe-every-page-1280', WIDE);
  await pass('a11y-axe-and-layout-every-page-390', NARROW, { checkLayout: true, skip: ['color-contrast'] });
  await pass('a11y-contrast-every-page-dark', WIDE, { scheme: 'dark', rules: ['color-contrast'] });
  // the narrowest phones: the layout only
  await pass('a11y-layout-every-page-360', SMALLEST, { checkLayout: true, noAxe: true });

  // the layout check itself fails on a control pushed out of the window and
  // on two controls on top of each other (planted, then removed)
  await step('a11y-layout-check-catches-cut-off-and-overlap', async () => {
    await page.setViewportSize(NARROW);
    try {
      await open(`/envs/${envId}/flags`);
      await page.evaluate(() => {
        // outside the application's tree (its renders would drop a stranger in it)
        const box = document.createElement('main');
        box.id = 'a11y-planted';
        // styles through the CSSOM: the page's CSP refuses style attributes
        const add = (text, css) => {
          const b = document.createElement('button');
          b.type = 'button';
          b.textContent = text;
          Object.assign(b.style, css);
          box.append(b);
        };
        add('Planted outside', { marginLeft: '420px' });
        add('Planted A', { position: 'relative' });
        add('Planted B', { position: 'relative', left: '-40px' });
        document.body.append(box);
      });
      const found = (await layout(page)).join('\n');
      if (!/cut off: .*Planted outside/.test(found)) throw new Error('a button 420 px to the right was not reported cut off: ' + found);
      if (!/overlap: .*Planted A.*Planted B/.test(found)) throw new Error('two overlapping buttons were not reported: ' + found);
      if (!/scrolls sideways/.test(found)) throw new Error('the sideways scroll was not reported: ' + found);
    } finally {
      await page.evaluate(() => document.getElementById('a11y-planted')?.remove()).catch(() => {});
      await page.setViewportSize(WIDE);
    }
  });

  await step('a11y-keyboard-skip-link-focus-and-menu', async () => {
    // a fresh load (an in-app navigation puts focus on the page's heading,
    // where Tab goes on into the page: e2e/orgdelete.mjs checks that)
    await page.goto(`${base}/envs/${envId}/flags`);
    await page.locator('h1').first().waitFor({ state: 'visible' });
    await settled(page);
    await page.evaluate(() => { document.activeElement && document.activeElement.blur(); });
    await page.keyboard.press('Tab');
    const skip = await page.evaluate(() => {
      const el = document.activeElement, r = el.getBoundingClientRect();
      return { cls: el.className, text: el.textContent, top: r.top, bottom: r.bottom, h: window.innerHeight };
    });
    if (skip.cls !== 'skip-link' || skip.top < 0 || skip.bottom > skip.h) {
      throw new Error(`the first Tab stop is ${JSON.stringify(skip)}, want the visible skip link`);
    }
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'main');
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const el = document.activeElement, cs = getComputedStyle(el);
      return { inMain: !!el.closest('main'), what: el.tagName + ' ' + (el.textContent || '').trim().slice(0, 30), style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
    });
    if (!ring.inMain) throw new Error(`Tab after the skip link went to ${ring.what}, not into the page`);
    if (ring.style === 'none' || !(ring.width > 0)) throw new Error(`no visible focus on ${ring.what} (outline ${ring.style} ${ring.width}px)`);
    // 390 px: the navigation is behind "Menu", which opens and closes by keyboard
    await page.setViewportSize(NARROW);
    try {
      const nav = page.getByRole('navigation', { name: 'Sections' });
      if (await nav.isVisible()) throw new Error('the section navigation is open at 390 px before Menu is pressed');
      const menu = page.getByRole('button', { name: 'Menu' });
      await menu.focus();
      await page.keyboard.press('Enter');
      if ((await menu.getAttribute('aria-expanded')) !== 'true') throw new Error('Menu did not expand');
      await nav.getByRole('link', { name: 'Segments', exact: true }).waitFor({ state: 'visible' });
      await nav.getByRole('link', { name: 'Segments', exact: true }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Segments', level: 1 }).waitFor();
      if (await nav.isVisible()) throw new Error('the navigation stays open after following one of its links');
    } finally {
      await page.setViewportSize(WIDE);
    }
  });

  await step('a11y-keyboard-dialog-traps-focus-escape-restores', async () => {
    const settings = (on) => page.evaluate(async ([env, on]) => {
      const r = await fetch(`/api/v1/envs/${env}/workflow-settings`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + localStorage.getItem('sy.token') },
        body: JSON.stringify({ requireComment: on, comment: 'a11y test: dialog keyboard check' }),
      });
      if (!r.ok) throw new Error(`workflow-settings: ${r.status} ${await r.text()}`);
    }, [envId, on]);
    await settings(true);
    try {
      await open(`/envs/${envId}/flags`);
      const sw = page.locator('main [role=switch]').first();
      const label = await sw.getAttribute('aria-label');
      const was = await sw.getAttribute('aria-checked');
      await sw.focus();
      await page.keyboard.press('Space');
      const dlg = page.getByRole('dialog', { name: 'Change comment' });
      await dlg.waitFor();
      const inDialog = () => page.evaluate(() => !!document.activeElement?.closest('[role=dialog]'));
      await page.waitForFunction(() => document.activeElement?.tagName === 'TEXTAREA' && !!document.activeElement.closest('[role=dialog]'));
      for (const key of ['Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
        await page.keyboard.press(key);
        if (!(await inDialog())) throw new Error(`${key} moved focus out of the open dialog`);
      }
      await page.keyboard.press('Escape');
      await dlg.waitFor({ state: 'detached' });
      try {
        await page.waitForFunction((l) => document.activeElement?.getAttribute('aria-label') === l, label, { timeout: 5000 });
      } catch {
        const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80));
        throw new Error(`after Escape focus is on ${at}, not back on the switch "${label}"`);
      }
      if ((await sw.getAttribute('aria-checked')) !== was) throw new Error('Escape (cancel) still changed the flag');
    } finally {
      await settings(false);
      await page.goto(base + `/envs/${envId}/flags`); // forget the cached setting
    }
    await signOut();
  });
}
