'use strict';
// react-client.js: FeatBit's React SDK (@featbit/react-client-sdk) in
// headless Chromium (Debian's, driven by playwright-core) against the edge;
// driven by edge/compat's Go test over lib/rpc.js's line protocol. The page
// script (browser/react-client.js) is bundled with esbuild, with React 18,
// and served from another loopback port (every request to the edge is a
// cross-origin one).
//
// Environment: COMPAT_EDGE_URL, COMPAT_STREAMING_URL (ws://…),
// COMPAT_SECRET (the client secret), COMPAT_USER (JSON: FeatBit user
// {keyId, name, customizedProperties}), COMPAT_FLAGS (comma-separated keys
// the app renders), SY_CHROMIUM (default /usr/bin/chromium).
// Commands: {"cmd":"values"} → {"value": {key: value}} as rendered now.
// Events: {"ev":"render","value":{…}} after every render of the app.
const fs = require('fs');
const http = require('http');
const path = require('path');
const esbuild = require('esbuild');
const { chromium } = require('playwright-core');
const { emit, fatal, serve } = require('./lib/rpc');

async function main() {
  const bundle = await esbuild.build({
    entryPoints: [path.join(__dirname, 'browser', 'react-client.js')],
    bundle: true, write: false, format: 'iife', platform: 'browser', target: 'chrome110', logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const js = bundle.outputFiles[0].text;
  const html = '<!doctype html><title>compat react</title><body><script>' + js.replace(/<\/script/g, '<\\/script') + '</script>';
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
  const started = Date.now();
  await page.evaluate((a) => window.__sy.init(a), {
    baseUrl: process.env.COMPAT_EDGE_URL, streamingUrl: process.env.COMPAT_STREAMING_URL, secret: process.env.COMPAT_SECRET,
    user: JSON.parse(process.env.COMPAT_USER), keys: (process.env.COMPAT_FLAGS || '').split(',').filter(Boolean),
  });
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', '@featbit/react-client-sdk', 'package.json'), 'utf8'));
  const react = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', 'react', 'package.json'), 'utf8'));
  emit({ ev: 'ready', sdk: '@featbit/react-client-sdk (react ' + react.version + ', chromium ' + browser.version() + ')', version: pkg.version,
    initMs: Date.now() - started, initialized: true });
  serve({
    values: async () => ({ value: await page.evaluate(() => window.__sy.values()) }),
  }, () => browser.close().finally(() => page0.close()));
}

main().catch(fatal);
