// A real OpenID Connect provider (panva's oidc-provider, certified) for the console's sign-in tests
// (tests/it/oidc.rs). It listens on a random loopback port and prints `ISSUER <url>`, then reads one line
// on stdin, the console's base URL, and registers the console there: a public client with PKCE, its
// callback and signed-out page. Accounts: any login; `alice`, `bob` and `carol` carry role claims.
//
// Environment: ACCESS_TTL (seconds, default 6), the access tokens' lifetime (short, to test refresh).

import http from 'node:http';
import readline from 'node:readline';
import Provider from 'oidc-provider';

const ROLE_SCOPES = ['org_super', 'org_tech', 'org_kajeetmanaged', 'org_managerplus', 'org_mediacenter', 'readonly'];

// Per-user claims as a district's directory would hold them.
const ACCOUNTS = {
  alice: { name: 'Alice Admin', email: 'alice@district.example', sentinel_roles: ['org_tech'], corp_ids: ['NORTHSTAR-ISD'] },
  bob: { name: 'Bob Reader', email: 'bob@district.example', sentinel_roles: 'readonly' },
  carol: { name: 'Carol Super', email: 'carol@district.example', sentinel_roles: ['org_super', 'org_tech'] },
};

// The test reads only the first lines of stdout: a later write to a closed pipe must not end the provider.
process.stdout.on('error', () => {});

const accessTtl = Number(process.env.ACCESS_TTL || 6);
let provider = null;

const server = http.createServer((req, res) => {
  if (!provider) {
    res.statusCode = 503;
    res.end('not configured yet');
    return;
  }
  provider.callback()(req, res);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const lines = readline.createInterface({ input: process.stdin });
  lines.once('line', (consoleUrl) => {
    const base = consoleUrl.trim().replace(/\/$/, '');
    provider = new Provider(issuer, {
      clients: [{
        client_id: 'sentinel-console',
        token_endpoint_auth_method: 'none',
        redirect_uris: [`${base}/auth/callback`],
        post_logout_redirect_uris: [`${base}/signed-out`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      }],
      scopes: ['openid', 'offline_access', ...ROLE_SCOPES],
      // The console asks for `openid` (and the role scopes): the directory's claims come with it,
      // at userinfo (the ID token says who: sub).
      claims: {
        openid: ['sub', 'name', 'email', 'sentinel_roles', 'corp_ids'],
      },
      async findAccount(_ctx, id) {
        const known = ACCOUNTS[id] || { name: id, email: `${id}@district.example` };
        return {
          accountId: id,
          async claims() {
            return { sub: id, ...known };
          },
        };
      },
      features: {
        devInteractions: { enabled: true },
        revocation: { enabled: true },
        rpInitiatedLogout: { enabled: true },
        userinfo: { enabled: true },
        claimsParameter: { enabled: false },
      },
      rotateRefreshToken: true,
      ttl: {
        AccessToken: accessTtl,
        AuthorizationCode: 60,
        IdToken: 3600,
        RefreshToken: 86400,
        Grant: 86400,
        Interaction: 600,
        Session: 86400,
      },
      cookies: { keys: ['sentinel-console-tests-only'] },
      pkce: { required: () => true },
    });
    process.stdout.write(`READY ${issuer}\n`);
  });
  process.stdout.write(`ISSUER ${issuer}\n`);
});

process.stdin.on('end', () => process.exit(0));
