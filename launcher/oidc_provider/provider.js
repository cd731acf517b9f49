// A local OpenID Provider for `nfdi-launcher stack --oidc` and the tests: node's
// oidc-provider (the certified library) with demo identities whose entitlements differ.
//
//   node provider.js <config.json>
//
// The config file (mode 0600; written by launcher/cli/stack_oidc.py) holds:
//   {"issuer": "http://localhost:<port>", "host": "127.0.0.1", "port": <port>,
//    "state_dir": "<dir for signing keys and cookie keys, created 0600>",
//    "clients": [{"client_id", "client_secret", "redirect_uris": [...],
//                 "post_logout_redirect_uris": [...]}],
//    "users": [{"sub", "password_file", "claims": {"name", "email",
//               "eduperson_entitlement": [...]}, "misbehave": ""}]}
// Passwords are read from their (0600) files, never from the config file.
//
// A user's "misbehave" exists for tests of the hub's id_token checks only (the stack's
// demo users have none): the id_tokens issued for that user are "wrong-signature"
// (signed with a key the provider does not publish, same kid), "expired" (already
// expired) or "wrong-audience" (for another client). Everything else is unchanged.
//
// Everything listens on loopback; pages load nothing from elsewhere.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import Provider from 'oidc-provider';

const MAX_FORM = 8 * 1024;

function readConfig(file) {
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const key of ['issuer', 'port', 'state_dir', 'clients', 'users']) {
    if (!(key in config)) throw new Error(`${file}: "${key}" missing`);
  }
  return config;
}

// A secret file of the state directory, created once (mode 0600).
function stateFile(dir, name, make) {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, make(), { mode: 0o600, flag: 'wx' });
  }
  return fs.readFileSync(file, 'utf8');
}

function signingKey(dir) {
  const text = stateFile(dir, 'oidc-signing-key.json', () => {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = privateKey.export({ format: 'jwk' });
    return JSON.stringify({ ...jwk, kid: crypto.randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' });
  });
  return JSON.parse(text);
}

const htmlEscape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${htmlEscape(title)}</title>
<style>body{font-family:sans-serif;max-width:26em;margin:3em auto}label,input,button{display:block;width:100%;margin:.3em 0}
.error{color:#a00}</style></head><body><h1>${htmlEscape(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, clientId, error) {
  return page('Local OpenID Provider: sign in', `
<p>Sign in to continue to <b>${htmlEscape(clientId)}</b>.</p>
${error ? `<p class="error" role="alert">${htmlEscape(error)}</p>` : ''}
<form method="post" action="/interaction/${htmlEscape(uid)}/login" autocomplete="off">
<label for="login">User name</label><input id="login" name="login" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>`);
}

async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function samePassword(given, expected) {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

// -- test-only: re-sign an id_token the way a user's "misbehave" asks ------------------
function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

function forge(idToken, mode, jwk) {
  const [head, body] = idToken.split('.');
  const header = JSON.parse(Buffer.from(head, 'base64url'));
  const claims = JSON.parse(Buffer.from(body, 'base64url'));
  let key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const now = Math.floor(Date.now() / 1000);
  if (mode === 'wrong-signature') {
    key = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  } else if (mode === 'expired') {
    claims.iat = now - 7200;
    claims.exp = now - 3600;
  } else if (mode === 'wrong-audience') {
    claims.aud = 'another-application';
  } else {
    throw new Error(`unknown misbehave mode ${mode}`);
  }
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

function main() {
  const config = readConfig(process.argv[2]);
  fs.mkdirSync(config.state_dir, { recursive: true, mode: 0o700 });
  const jwk = signingKey(config.state_dir);
  const cookieKey = stateFile(config.state_dir, 'oidc-cookie-key', () => crypto.randomBytes(32).toString('hex'));
  const users = new Map(config.users.map((u) => [u.sub, u]));

  const provider = new Provider(config.issuer, {
    clients: config.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris || [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // oauthenticator sends the client's credentials in the request body
      token_endpoint_auth_method: 'client_secret_post',
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: [cookieKey] },
    pkce: { required: () => false },
    // seconds; a day's session at most, short-lived tokens (the hub keeps no refresh token)
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600,
           Grant: 86400, Session: 86400 },
    scopes: ['openid', 'profile', 'email', 'eduperson_entitlement'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      eduperson_entitlement: ['eduperson_entitlement'],
    },
    async findAccount(ctx, sub) {
      const user = users.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, preferred_username: sub, email_verified: true, ...user.claims };
        },
      };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = page('Sign out of the local OpenID Provider?', `${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<p>You are signed out of the local OpenID Provider.</p>');
        },
      },
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<p>${htmlEscape(out.error)}: ${htmlEscape(out.error_description || '')}</p>`);
    },
  });

  provider.use(async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
    if (!match) {
      await next();
      const idToken = ctx.path === '/token' && ctx.body && ctx.body.id_token;
      const sub = idToken && JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url')).sub;
      const mode = sub && users.get(sub) && users.get(sub).misbehave;
      if (mode) ctx.body = { ...ctx.body, id_token: forge(idToken, mode, jwk) };
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const clientId = details.params.client_id;
    if (details.prompt.name === 'login') {
      if (ctx.method === 'POST' && match[2]) {
        const form = await readForm(ctx.req);
        const user = users.get(form.get('login') || '');
        const expected = user ? fs.readFileSync(user.password_file, 'utf8').trim() : '';
        if (!user || !samePassword(form.get('password') || '', expected)) {
          ctx.status = 401;
          ctx.body = loginPage(details.uid, clientId, 'Wrong user name or password.');
          return;
        }
        const to = await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: user.sub } });
        ctx.redirect(to);
        return;
      }
      ctx.body = loginPage(details.uid, clientId, '');
      return;
    }
    // consent: the hub is this provider's only (first-party) client; grant what it asked
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId });
    if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
    if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    const to = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } });
    ctx.redirect(to);
  });

  const server = provider.listen(config.port, config.host || '127.0.0.1', () => {
    console.log(`oidc-provider listening at ${config.issuer} (users: ${[...users.keys()].join(', ')})`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
