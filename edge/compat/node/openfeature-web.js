'use strict';
// openfeature-web.js: OpenFeature's web SDK (@openfeature/web-sdk) with a
// browser provider in headless Chromium (Debian's, driven by playwright-core),
// against the edge; driven by edge/compat's Go test over lib/rpc.js's line
// protocol. COMPAT_WEB_PROVIDER picks the page script: "ofrep" (default,
// browser/openfeature-web.js, @openfeature/ofrep-web-provider) or "featbit"
// (browser/featbit-openfeature.js, @featbit/openfeature-provider-js-client).
//
// The page script is bundled with esbuild and served from a small
// HTTP server on another loopback port (an origin other than the edge's, so
// every request is a real cross-origin one with a CORS preflight).
//
// Environment: COMPAT_EDGE_URL, COMPAT_STREAMING_URL (ws://…, FeatBit's
// provider), COMPAT_SECRET (the client secret),
// COMPAT_POLL_MS (default 250), SY_CHROMIUM (default /usr/bin/chromium).
// Commands: {"cmd":"init","context"} → {"etag"}, then {"cmd":"eval","flag","type",
// "default","context"} → {"value","reason","variant","errorCode","flag"};
// events {"ev":"changed","flags":[…]} on the provider's
// ConfigurationChanged.
const fs = require('fs');
const http = require('http');
const path = require('path');
const esbuild = require('esbuild');
const { chromium } = require('playwright-core');
const { emit, fatal, serve } = require('./lib/rpc');

const entries = {
  ofrep: { file: 'openfeature-web.js', pkg: '@openfeature/ofrep-web-provider' },
  featbit: { file: 'featbit-openfeature.js', pkg: '@featbit/openfeature-provider-js-client' },
};
const entry = entries[process.env.COMPAT_WEB_PROVIDER || 'ofrep'];

async function main() {
  if (!entry) throw new Error('unknown COMPAT_WEB_PROVIDER ' + process.env.COMPAT_WEB_PROVIDER);
  const bundle = await esbuild.build({
    entryPoints: [path.join(__dirname, 'browser', entry.file)],
    bundle: true, write: false, format: 'iife', platform: 'browser', target: 'chrome110', logLevel: 'silent',
  });
  const js = bundle.outputFiles[0].text;
  const html = '<!doctype html><title>compat</title><script>' + js.replace(/<\/script/g, '<\\/script') + '</script>';
  const page0 = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise((ok) => page0.listen(0, '127.0.0.1', ok));
  const origin = 'http://127.0.0.1:' + page0.address().port;
  const browser = await chromium.launch({
    executablePath: process.env.SY_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  page.on('console', (m) => process.stderr.write(`[browser ${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => process.stderr.write(`[browser error] ${e}\n`));
  await page.exposeFunction('__syEmit', (obj) => emit(obj));
  await page.goto(origin + '/');
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', entry.pkg, 'package.json'), 'utf8'));
  emit({ ev: 'ready', sdk: entry.pkg + ' (chromium ' + browser.version() + ')', version: pkg.version, initialized: true });
  serve({
    init: (m) => page.evaluate((a) => window.__sy.init(a), {
      baseUrl: process.env.COMPAT_EDGE_URL, streamingUrl: process.env.COMPAT_STREAMING_URL, secret: process.env.COMPAT_SECRET,
      pollMs: Number(process.env.COMPAT_POLL_MS || 250), context: m.context,
    }),
    eval: (m) => page.evaluate((a) => window.__sy.eval(a), { flag: m.flag, type: m.type, def: m.default, context: m.context || {} }),
  }, () => browser.close().finally(() => page0.close()));
}

main().catch(fatal);
