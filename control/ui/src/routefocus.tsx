// routefocus.tsx: what a screen reader and a keyboard user notice of a
// client-side navigation. After every route change focus moves to the
// page's main heading (h1, made focusable with tabindex=-1) or, when the page
// shows none within 5 s, to the main landmark; the document title follows
// the main heading ("Feature flags · Switchyard"). Focus is not taken from
// the user: if something in the page or a dialog already has it, it stays.
import { useEffect, useRef } from 'preact/hooks';

const APP = 'Switchyard';
const WAIT_MS = 5000;

// RouteFocus renders nothing; mount it next to <main id="main"> and give it
// the current path. The first path (the page load) keeps the browser's focus.
export function RouteFocus({ path }: { path: string }) {
  const first = useRef(true);

  useEffect(() => {
    const main = document.getElementById('main');
    if (!main) return;
    const sync = () => {
      const t = main.querySelector('h1')?.textContent?.replace(/\s+/g, ' ').trim();
      const want = t ? `${t} · ${APP}` : APP;
      if (document.title !== want) document.title = want;
    };
    sync();
    const mo = new MutationObserver(sync);
    mo.observe(main, { subtree: true, childList: true, characterData: true });
    return () => { mo.disconnect(); document.title = APP; };
  }, []);

  useEffect(() => {
    if (first.current) { first.current = false; return; }
    const main = document.getElementById('main');
    if (!main) return;
    let stop = false;
    let frame = 0;
    const deadline = Date.now() + WAIT_MS;
    const tryFocus = () => {
      if (stop) return;
      const a = document.activeElement;
      if (a && a !== main && (main.contains(a) || a.closest('[role=dialog]'))) return; // the user is there already
      const h = main.querySelector('h1');
      if (h instanceof HTMLElement) {
        if (!h.hasAttribute('tabindex')) h.setAttribute('tabindex', '-1');
        h.focus({ preventScroll: true });
        return;
      }
      if (Date.now() > deadline) { main.focus({ preventScroll: true }); return; }
      frame = requestAnimationFrame(tryFocus);
    };
    frame = requestAnimationFrame(tryFocus);
    return () => { stop = true; cancelAnimationFrame(frame); };
  }, [path]);

  return null;
}
