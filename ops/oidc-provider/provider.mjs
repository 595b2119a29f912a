// A local OpenID provider for Switchyard's single sign-on tests, built on
// panva/oidc-provider (a certified OpenID Connect implementation) with a
// minimal sign-in page of its own (no external resources): any login name is
// accepted with any password, so it is for tests only, never for production.
//
// Usage: node provider.mjs <config.json>
// config: {"port": 0, "clients": [{"client_id", "client_secret", "redirect_uris": [...]}],
//          "accounts": {"<login>": {"email", "email_verified", "name", "groups": [...]}}}
// An unknown login signs in as an account with only a subject.
// It prints one line "READY <issuer URL>" when it listens (on 127.0.0.1).
import http from 'node:http';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const server = http.createServer();
await new Promise((resolve) => server.listen(cfg.port || 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: cfg.clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: c.client_secret ? 'client_secret_basic' : 'none',
    ...c,
  })),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  conformIdTokenClaims: false, // put the granted claims in the ID token
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  cookies: { keys: ['switchyard-test-provider-only'] },
  async findAccount(_ctx, id) {
    const a = cfg.accounts[id] || {};
    return {
      accountId: id,
      async claims() { return { sub: id, ...a }; },
    };
  },
  async loadExistingGrant(ctx) {
    // Grant what was asked (the test provider has no consent page to click).
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const readBody = (req) => new Promise((resolve, reject) => {
  let b = '';
  req.on('data', (d) => { b += d; if (b.length > 10000) reject(new Error('body too large')); });
  req.on('end', () => resolve(new URLSearchParams(b)));
  req.on('error', reject);
});
const callback = provider.callback();
server.on('request', async (req, res) => {
  if (!req.url.startsWith('/interaction/')) return callback(req, res);
  try {
    const { uid, prompt } = await provider.interactionDetails(req, res);
    if (req.method === 'POST') {
      const body = await readBody(req);
      const login = body.get('login') || '';
      if (!login) throw new Error('login is required');
      return await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    }
    if (prompt.name !== 'login') throw new Error(`prompt ${prompt.name} is not implemented`);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Test OpenID provider</title></head><body>
<h1>Test OpenID provider</h1>
<form method="post" action="/interaction/${esc(uid)}/login">
<input type="hidden" name="prompt" value="login">
<label>Login <input name="login" required autofocus></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button>
</form></body></html>`);
  } catch (e) {
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(String(e && e.message || e));
  }
});
process.stdout.write(`READY ${issuer}\n`);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
