// A local OpenID provider for Switchyard's single sign-on tests, built on
// panva/oidc-provider (a certified OpenID Connect implementation) with its
// development sign-in pages: any login name is accepted with any password,
// so it is for tests only, never for production.
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
  features: { devInteractions: { enabled: true } },
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
server.on('request', provider.callback());
process.stdout.write(`READY ${issuer}\n`);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
