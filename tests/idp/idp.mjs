// Test OpenID Provider for Portcullis end-to-end tests.
//
// A thin wrapper around `oidc-provider` (OpenID Certified) that is configured
// entirely from one JSON document, passed as the first argument or in the
// IDP_CONFIG environment variable. It listens on loopback over plain HTTP,
// generates fresh signing keys at startup, serves a real HTML login form
// (username + password checked against the configured accounts) and a consent
// form, and offers a few test-only admin endpoints under /__test/.
//
// When it is ready it prints exactly one line to stdout:
//   READY {"base_url":"http://127.0.0.1:PORT","issuer":"<issuer exactly>","port":PORT}
// Everything else goes to stderr.
//
// Configuration (all keys optional unless noted):
//   host            "127.0.0.1"
//   port            0 (pick a free port)
//   issuer          "http://127.0.0.1:{port}" — "{port}" is replaced by the bound port;
//                   kept byte for byte, so "http://127.0.0.1:{port}/" advertises a trailing slash
//   algorithms      ["RS256"] — one signing key per entry: RS256 PS256 ES256 EdDSA (...)
//   clients         [{ client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                      token_endpoint_auth_method, id_token_signed_response_alg,
//                      grant_types, response_types, scope, backchannel_logout_uri }]
//   accounts        [{ username, password, claims: { sub, preferred_username, email,
//                      email_verified, groups, name, ... } }]
//   ttl             { AccessToken, IdToken, RefreshToken, AuthorizationCode, Session,
//                     Grant, Interaction } in seconds
//   consent         "auto" (default: granted without a page) | "form" (a page with a button)
//   id_token_claims "all" (default: scope claims also in the ID token) | "minimal"
//   registration_initial_access_token  enables RFC 7591/7592 dynamic registration
//   clock_offset_seconds  shift the IdP's clock (skew tests)
//   rotate_refresh_tokens  every refresh grant issues a new refresh token and consumes the
//                   old one; using a consumed one revokes the grant (reuse detection)
//
// Every token grant is logged as "idp: grant <grant_type> success" or
// "idp: grant <grant_type> error <message>" (tests count refresh grants from the log).
//
// Admin endpoints (test only):
//   GET  /__test/health          -> {"ok":true,"kids":[...]}
//   POST /__test/rotate          body {"keep_old":true} -> new key per algorithm, made current
//   POST /__test/clock           body {"offset_seconds":N}
//   POST /__test/accounts/disable  body {"username":"..."} (findAccount then fails)
//   POST /__test/accounts/enable   body {"username":"..."}
//   POST /__test/outage          body {"status":503} (every other request answers that
//                                status) | {"drop":true} (connections are reset) | {} (back)

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';
// A deep import (the package has no "exports" map and the version is pinned): the default
// in-memory adapter gets a private store per Provider instance, but key rotation builds a
// new instance and sessions, grants, tokens and registered clients must survive it.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

/** The in-memory adapter on its module-wide store, shared by every Provider instance. */
class SharedMemoryAdapter extends MemoryAdapter {
  constructor(model) {
    super(model, undefined, 0);
  }
}

const raw = process.argv[2] ?? process.env.IDP_CONFIG;
if (!raw) {
  console.error('usage: node idp.mjs \'<json config>\' (or IDP_CONFIG=<json>)');
  process.exit(2);
}
const config = JSON.parse(raw);

const host = config.host ?? '127.0.0.1';
const algorithms = config.algorithms ?? ['RS256'];
const accounts = new Map((config.accounts ?? []).map((a) => [a.username, a]));
const disabled = new Set();
// An outage: null (serving), {status} (answer every non-admin request so) or {drop}.
let outage = null;
// Cookie keys survive key rotation (which rebuilds the provider) so sessions stay valid.
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

// Clock skew: oidc-provider reads Date.now() for iat/exp, so shifting it shifts the IdP.
let clockOffsetMs = (config.clock_offset_seconds ?? 0) * 1000;
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + clockOffsetMs;

let keyCounter = 0;

/** A fresh private JWK for one JWS algorithm, with an explicit alg and a unique kid. */
function generateKey(alg) {
  let pair;
  if (alg.startsWith('RS') || alg.startsWith('PS')) {
    pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  } else if (alg === 'ES256') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  } else if (alg === 'ES384') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  } else if (alg === 'ES512') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
  } else if (alg === 'EdDSA' || alg === 'Ed25519') {
    pair = crypto.generateKeyPairSync('ed25519');
  } else {
    throw new Error(`unsupported signing algorithm ${alg}`);
  }
  keyCounter += 1;
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return {
    ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${keyCounter}-${crypto.randomBytes(4).toString('hex')}`,
  };
}

// Current keys first: oidc-provider signs with the first matching key of an algorithm.
let signingKeys = algorithms.map(generateKey);

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}label,input,button{display:block;margin:.4em 0}</style>
</head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function clientMetadata(c) {
  const out = {
    client_id: c.client_id,
    redirect_uris: c.redirect_uris ?? [],
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    grant_types: c.grant_types ?? ['authorization_code', 'refresh_token'],
    response_types: c.response_types ?? ['code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
  };
  if (c.client_secret !== undefined) out.client_secret = c.client_secret;
  // Default to the first configured algorithm: oidc-provider's own default is RS256,
  // which is rejected when no RSA key exists.
  out.id_token_signed_response_alg = c.id_token_signed_response_alg ?? algorithms[0];
  if (c.scope) out.scope = c.scope;
  if (c.backchannel_logout_uri) {
    out.backchannel_logout_uri = c.backchannel_logout_uri;
    out.backchannel_logout_session_required = true;
  }
  return out;
}

async function findAccount(_ctx, id) {
  const account = [...accounts.values()].find((a) => (a.claims?.sub ?? a.username) === id);
  if (!account || disabled.has(account.username)) return undefined;
  return {
    accountId: id,
    async claims() {
      return { ...account.claims, sub: id };
    },
  };
}

function buildProvider(issuer) {
  const registrationToken = config.registration_initial_access_token;
  const provider = new Provider(issuer, {
    clients: (config.clients ?? []).map(clientMetadata),
    jwks: { keys: signingKeys },
    findAccount,
    adapter: SharedMemoryAdapter,
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    conformIdTokenClaims: (config.id_token_claims ?? 'all') !== 'all',
    // Refresh tokens for every client allowed the grant, without the offline_access dance.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ...(config.rotate_refresh_tokens ? { rotateRefreshToken: true } : {}),
    ttl: {
      AccessToken: 300,
      AuthorizationCode: 60,
      IdToken: 300,
      RefreshToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      ...(config.ttl ?? {}),
    },
    pkce: { required: () => false },
    // oidc-provider refuses outgoing requests (back-channel logout) to loopback addresses
    // as SSRF protection; this IdP and its relying parties live on loopback only.
    fetch: (url, options) => {
      const { dispatcher: _ssrfGuard, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      // Clients with a backchannel_logout_uri get a logout token when the user signs out here.
      backchannelLogout: { enabled: true },
      introspection: { enabled: true },
      registration: registrationToken
        ? { enabled: true, initialAccessToken: registrationToken }
        : { enabled: false },
      registrationManagement: { enabled: Boolean(registrationToken), rotateRegistrationAccessToken: false },
      rpInitiatedLogout: {
        enabled: true,
        // Own pages: the defaults load web fonts from the internet, which tests must not touch.
        logoutSource: async (ctx, form) => {
          ctx.body = page('Sign out', form.replace(
            '</form>',
            '<button type="submit" name="logout" value="yes">Yes, sign me out</button></form>',
          ));
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out', '<p>You have been signed out.</p>');
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', `<pre id="error">${esc(JSON.stringify(out))}</pre>`);
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('idp server_error:', err));
  provider.on('backchannel.success', (_ctx, client) => console.error(`idp: back-channel logout sent to ${client.clientId}`));
  provider.on('backchannel.error', (_ctx, err, client) => console.error(`idp: back-channel logout to ${client.clientId} failed:`, err.message, err.cause?.message ?? err.cause));
  provider.on('end_session.success', () => console.error('idp: end_session success'));
  provider.on('grant.success', (ctx) => console.error(`idp: grant ${ctx.oidc.params?.grant_type} success`));
  provider.on('grant.error', (ctx, err) => console.error(`idp: grant ${ctx.oidc.params?.grant_type} error ${err.message} ${err.error_description ?? ''}`));
  return provider;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, type, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

function loginPage(uid, error, username = '') {
  const err = error ? `<p id="error" role="alert">${esc(error)}</p>` : '';
  return page('Sign in to the test IdP', `${err}
<form method="post" action="/interaction/${esc(uid)}/login" >
<label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" value="${esc(username)}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="submit">Sign in</button>
</form>`);
}

async function grantConsent(provider, details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  return details.grantId ? {} : { grantId };
}

async function interaction(provider, req, res, path) {
  const [, , uid, action] = path.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch');
  const { prompt } = details;

  if (req.method === 'GET') {
    if (prompt.name === 'login') return send(res, 200, 'text/html; charset=utf-8', loginPage(uid));
    if (prompt.name === 'consent') {
      if ((config.consent ?? 'auto') === 'auto') {
        const consent = await grantConsent(provider, details);
        return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
      }
      const scopes = prompt.details.missingOIDCScope ?? [];
      return send(res, 200, 'text/html; charset=utf-8', page('Authorize access', `
<p>The application <b id="client">${esc(details.params.client_id)}</b> asks for: <span id="scopes">${esc(scopes.join(' '))}</span></p>
<form method="post" action="/interaction/${esc(uid)}/confirm">
<button type="submit" id="allow">Allow</button>
</form>`));
    }
    return send(res, 400, 'text/plain', `unsupported prompt ${prompt.name}`);
  }

  if (req.method === 'POST' && action === 'login') {
    const form = new URLSearchParams(await readBody(req));
    const username = form.get('username') ?? '';
    const account = accounts.get(username);
    const ok = account && !disabled.has(username)
      && crypto.timingSafeEqual(
        crypto.hash('sha256', form.get('password') ?? '', 'buffer'),
        crypto.hash('sha256', account.password ?? '', 'buffer'),
      );
    if (!ok) {
      return send(res, 200, 'text/html; charset=utf-8', loginPage(uid, 'Invalid username or password.', username));
    }
    const accountId = account.claims?.sub ?? account.username;
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'confirm') {
    const consent = await grantConsent(provider, details);
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }
  return send(res, 405, 'text/plain', 'method not allowed');
}

function publicKids() {
  return signingKeys.map((k) => k.kid);
}

async function admin(state, req, res, path) {
  const body = req.method === 'POST' ? await readBody(req) : '';
  const input = body ? JSON.parse(body) : {};
  if (path === '/__test/health') {
    return send(res, 200, 'application/json', JSON.stringify({ ok: true, kids: publicKids() }));
  }
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'method not allowed');
  if (path === '/__test/rotate') {
    const fresh = algorithms.map(generateKey);
    signingKeys = input.keep_old === false ? fresh : [...fresh, ...signingKeys];
    // The keystore is fixed at construction, so rotation builds a new provider. Sessions,
    // grants, tokens and dynamic clients live in the shared memory adapter and the
    // cookie keys are kept, so nothing but the keys changes.
    setProvider(buildProvider(state.issuer));
    console.error(`idp: rotated signing keys, current: ${fresh.map((k) => k.kid).join(',')}`);
    return send(res, 200, 'application/json', JSON.stringify({
      current: fresh.map((k) => k.kid), kids: publicKids(),
    }));
  }
  if (path === '/__test/outage') {
    outage = input.status || input.drop ? { status: Number(input.status ?? 0), drop: Boolean(input.drop) } : null;
    console.error(`idp: outage ${JSON.stringify(outage)}`);
    return send(res, 200, 'application/json', JSON.stringify({ outage }));
  }
  if (path === '/__test/clock') {
    clockOffsetMs = Number(input.offset_seconds ?? 0) * 1000;
    return send(res, 200, 'application/json', JSON.stringify({ offset_seconds: clockOffsetMs / 1000 }));
  }
  if (path === '/__test/accounts/disable' || path === '/__test/accounts/enable') {
    if (!accounts.has(input.username)) return send(res, 404, 'text/plain', 'no such account');
    if (path.endsWith('disable')) disabled.add(input.username); else disabled.delete(input.username);
    return send(res, 200, 'application/json', JSON.stringify({ disabled: [...disabled] }));
  }
  return send(res, 404, 'text/plain', 'not found');
}

const state = {
  provider: undefined, handler: undefined, issuer: undefined, mount: '',
};

function setProvider(provider) {
  state.provider = provider;
  state.handler = provider.callback();
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  // A skewed host's HTTP Date is as skewed as its tokens (Node's own Date header reads
  // the unshifted clock), so the relying party's Date-based clock check sees the skew.
  res.setHeader('Date', new Date(Date.now()).toUTCString());
  try {
    if (path.startsWith('/__test/')) return await admin(state, req, res, path);
    if (outage?.drop) return req.socket.destroy();
    if (outage) return send(res, outage.status, 'text/html', '<html><body>upstream unavailable</body></html>');
    if (path.startsWith('/interaction/')) return await interaction(state.provider, req, res, path);
    // Emulate mounting (as express does) when the issuer has a path: oidc-provider derives
    // its mount path from originalUrl minus url.
    if (state.mount && (path === state.mount || path.startsWith(`${state.mount}/`))) {
      req.originalUrl = req.url;
      req.url = req.url.slice(state.mount.length) || '/';
    }
    return state.handler(req, res);
  } catch (err) {
    console.error('idp error:', err);
    if (!res.headersSent) send(res, 500, 'text/plain', `idp error: ${err.message}`);
    else res.end();
    return undefined;
  }
});

server.listen(config.port ?? 0, host, () => {
  const { port } = server.address();
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const baseUrl = `http://${hostPart}:${port}`;
  state.issuer = (config.issuer ?? `${baseUrl}`).replaceAll('{port}', String(port));
  const { pathname } = new URL(state.issuer);
  state.mount = pathname.replace(/\/$/, '');
  setProvider(buildProvider(state.issuer));
  process.stdout.write(`READY ${JSON.stringify({ base_url: baseUrl, issuer: state.issuer, port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
