// The test identity provider: a real OpenID Provider (the `oidc-provider` package) that
// teamportal's tests start on a random loopback port and steer through /__control endpoints.
//
// Usage: node tests/idp/server.mjs CONFIG.json
// Prints exactly one line, `READY http://127.0.0.1:<port>`, on stdout once it serves; logs go
// to stderr. Exits when stdin closes or on SIGTERM/SIGINT.
//
// CONFIG.json:
//   {"clients": [{"client_id", "client_secret", "redirect_uris": [...],
//                 "post_logout_redirect_uris": [...]?, "token_endpoint_auth_method"?,
//                 "backchannel_logout_uri"?, "backchannel_logout_session_required"?}],
//    "accounts": {"alice": {"email", "email_verified", "name", "groups"}},
//    "thin_id_token": false,
//    "port": 0}                        (optional: a fixed port, to restart on the same issuer)
// thin_id_token = true keeps email/email_verified/name/groups out of the ID token (the relying
// party must call /userinfo), as Okta and many other providers do.
//
// Control endpoints (JSON; tests only):
//   GET  /__control/health            -> 200 {"ok":true}
//   POST /__control/rotate-keys       -> new RS256 key with a new kid; the JWKS lists only it
//   POST /__control/account           {"id","claims"} upserts an account
//   POST /__control/client            client metadata (as in "clients"): upserts a client
//   GET  /__control/requests          -> [{"method","path","query"}] seen since start/reset
//   POST /__control/requests/reset
//   POST /__control/fault             {"path","status"?,"body"?,"headers"?,"delay_ms"?,"times"?}
//                                     the next `times` (default: all) requests whose path equals
//                                     `path` wait `delay_ms`, then get `status` (0: connection
//                                     dropped; absent: served normally); {"clear": true} removes
//                                     every fault

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

// oidc-provider prints notices with console.info; stdout carries only the READY line.
console.info = console.error;
console.log = console.error;
console.debug = console.error;

const { default: Provider, errors: oidcErrors } = await import('oidc-provider');

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node server.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));

const accounts = new Map(Object.entries(config.accounts ?? {}));
function clientMetadata(c) {
  return {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  };
}
const clients = (config.clients ?? []).map(clientMetadata);
const thinIdToken = config.thin_id_token === true;
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

// ---------------------------------------------------------------------------------------------
// Storage shared by every Provider instance, so that a key rotation (which builds a new
// Provider) keeps sessions, grants, codes and tokens.

const store = new Map(); // key -> { value, expiresAt }

function storeGet(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.value;
}

function storeSet(key, value, expiresIn) {
  const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
  store.set(key, { value, expiresAt });
}

const grantable = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

class SharedAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session' && payload.uid) {
      storeSet(`sessionUid:${payload.uid}`, id, expiresIn);
    }
    if (payload.userCode) {
      storeSet(`userCode:${payload.userCode}`, id, expiresIn);
    }
    if (grantable.has(this.model) && payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      const members = storeGet(grantKey) ?? [];
      if (!members.includes(key)) members.push(key);
      storeSet(grantKey, members);
    }
    storeSet(key, payload, expiresIn);
  }

  async find(id) {
    return storeGet(this.key(id));
  }

  async findByUid(uid) {
    const id = storeGet(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = storeGet(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = storeGet(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    for (const key of storeGet(grantKey) ?? []) store.delete(key);
    store.delete(grantKey);
  }
}

// ---------------------------------------------------------------------------------------------
// Provider

function newSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomBytes(12).toString('base64url'), alg: 'RS256', use: 'sig' };
}

function escapeHtml(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

function buildProvider(issuer, signingKey) {
  const { port } = new URL(issuer);
  const provider = new Provider(issuer, {
    adapter: SharedAdapter,
    clients: structuredClone(clients),
    jwks: { keys: [signingKey] },
    // Browsers and cookie jars ignore ports: per-port names keep two test IdPs (and the
    // portal, also on 127.0.0.1) from overwriting each other's cookies.
    cookies: {
      keys: cookieKeys,
      names: {
        session: `idp${port}_session`,
        interaction: `idp${port}_interaction`,
        resume: `idp${port}_resume`,
      },
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    conformIdTokenClaims: thinIdToken,
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    pkce: { required: () => true },
    // oidc-provider (since 9.7) refuses outgoing requests to special-use addresses, loopback
    // included, by handing fetch an SSRF-checking dispatcher. This IdP and the portal it calls
    // (back-channel logout) both live on 127.0.0.1, so that dispatcher is dropped here.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = page('Sign out', `${form}
<button type="submit" id="logout" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" id="stay" form="op.logoutForm">No, stay signed in</button>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
        },
      },
    },
    async findAccount(ctx, sub) {
      const claims = accounts.get(sub);
      if (!claims) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { ...accounts.get(sub), sub };
        },
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<p id="error">${escapeHtml(out.error)}</p>
<p id="error_description">${escapeHtml(out.error_description)}</p>`);
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 86400,
      Grant: 86400,
    },
  });

  for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error',
    'end_session.error', 'jwks.error', 'discovery.error', 'introspection.error',
    'backchannel.error']) {
    provider.on(event, (ctx, err) => {
      console.error(`idp: ${event}: ${err?.message} ${err?.error_description ?? ''}`);
    });
  }
  return provider;
}

// ---------------------------------------------------------------------------------------------
// Interactions: a login form; consent is granted automatically.

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readForm(req) {
  return Object.fromEntries(new URLSearchParams(await readBody(req)));
}

async function readJson(req) {
  const text = await readBody(req);
  return text ? JSON.parse(text) : {};
}

function sendHtml(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function loginPage(uid, details, error) {
  const { params } = details;
  const hint = params.login_hint
    ? `<p>Login hint: <code id="login_hint">${escapeHtml(params.login_hint)}</code></p>` : '';
  const err = error ? `<p id="error" role="alert">${escapeHtml(error)}</p>` : '';
  return page('Sign in to the test IdP', `${err}
<p>Client: <code id="client_id">${escapeHtml(params.client_id)}</code>,
scope: <code id="scope">${escapeHtml(params.scope)}</code>,
prompt: <code id="prompt">${escapeHtml(details.prompt.name)}</code></p>
${hint}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label for="login">Account</label>
  <input name="login" id="login" autocomplete="off" autofocus>
  <button type="submit" id="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button type="submit" id="abort">Cancel</button>
</form>`);
}

// Grants every scope and claim the authorization request asked for; reuses the account's
// existing grant for this client when there is one.
async function grantEverything(provider, details, accountId) {
  const { params, prompt } = details;
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
    if (grant && grant.accountId !== accountId) grant = undefined;
  }
  grant ??= new provider.Grant({ accountId, clientId: params.client_id });

  if (params.scope) grant.addOIDCScope(params.scope);
  if (params.claims) {
    try {
      const requested = JSON.parse(params.claims);
      const names = [...Object.keys(requested.userinfo ?? {}), ...Object.keys(requested.id_token ?? {})];
      if (names.length) grant.addOIDCClaims(names);
    } catch {
      // malformed claims are rejected by the provider before any interaction
    }
  }
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details ?? {};
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interactionRoute(provider, req, res, uid, action) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof oidcErrors.SessionNotFound) {
      sendHtml(res, 400, page('Error', `<p id="error">${escapeHtml(err.error_description ?? err.message)}</p>`));
      return;
    }
    throw err;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, page('Error', '<p id="error">interaction mismatch</p>'));
    return;
  }

  if (action === 'show' && req.method === 'GET') {
    if (details.prompt.name === 'consent' && details.session?.accountId) {
      const grantId = await grantEverything(provider, details, details.session.accountId);
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    sendHtml(res, 200, loginPage(uid, details));
    return;
  }

  if (action === 'login' && req.method === 'POST') {
    const form = await readForm(req);
    const accountId = (form.login ?? '').trim();
    if (!accounts.has(accountId)) {
      sendHtml(res, 200, loginPage(uid, details, `Unknown account "${accountId}".`));
      return;
    }
    const grantId = await grantEverything(provider, details, accountId);
    await provider.interactionFinished(req, res, {
      login: { accountId },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (action === 'abort' && req.method === 'POST') {
    await readBody(req);
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'User is not assigned to the client application.',
    }, { mergeWithLastSubmission: false });
    return;
  }

  sendHtml(res, 405, page('Error', '<p id="error">method not allowed</p>'));
}

// ---------------------------------------------------------------------------------------------
// HTTP server

let provider;
let providerHandler;
let issuer;
let signingKey;

// oidc-provider fixes its keys and static clients at construction: changing either builds a new
// Provider over the same storage (in-flight interactions need not survive).
function rebuildProvider() {
  provider = buildProvider(issuer, signingKey);
  providerHandler = provider.callback();
}
const requests = [];
let faults = [];

async function controlRoute(req, res, path) {
  if (path === '/__control/health' && req.method === 'GET') {
    sendJson(res, 200, { ok: true, issuer });
  } else if (path === '/__control/rotate-keys' && req.method === 'POST') {
    await readBody(req);
    signingKey = newSigningKey();
    rebuildProvider();
    console.error(`idp: rotated signing key, kid ${signingKey.kid}`);
    sendJson(res, 200, { kid: signingKey.kid });
  } else if (path === '/__control/account' && req.method === 'POST') {
    const { id, claims } = await readJson(req);
    if (typeof id !== 'string' || !id || typeof claims !== 'object' || claims === null) {
      sendJson(res, 400, { error: 'expected {"id": string, "claims": object}' });
      return;
    }
    accounts.set(id, claims);
    sendJson(res, 200, { id });
  } else if (path === '/__control/client' && req.method === 'POST') {
    const client = await readJson(req);
    if (typeof client.client_id !== 'string' || !client.client_id) {
      sendJson(res, 400, { error: 'expected client metadata with a client_id' });
      return;
    }
    const previous = clients.slice();
    const index = clients.findIndex((c) => c.client_id === client.client_id);
    if (index === -1) clients.push(clientMetadata(client));
    else clients[index] = clientMetadata(client);
    try {
      rebuildProvider();
    } catch (err) {
      clients.splice(0, clients.length, ...previous);
      rebuildProvider();
      sendJson(res, 400, { error: String(err?.message) });
      return;
    }
    sendJson(res, 200, { client_id: client.client_id });
  } else if (path === '/__control/requests' && req.method === 'GET') {
    sendJson(res, 200, requests);
  } else if (path === '/__control/requests/reset' && req.method === 'POST') {
    await readBody(req);
    requests.length = 0;
    sendJson(res, 200, { ok: true });
  } else if (path === '/__control/fault' && req.method === 'POST') {
    const fault = await readJson(req);
    if (fault.clear) {
      faults = [];
    } else if (typeof fault.path === 'string') {
      faults.push({ times: Infinity, ...fault });
    } else {
      sendJson(res, 400, { error: 'expected {"path": string, ...} or {"clear": true}' });
      return;
    }
    sendJson(res, 200, { faults: faults.length });
  } else {
    sendJson(res, 404, { error: 'unknown control endpoint' });
  }
}

async function applyFault(req, res, path) {
  const index = faults.findIndex((f) => f.path === path);
  if (index === -1) return false;
  const fault = faults[index];
  fault.times -= 1;
  if (fault.times <= 0) faults.splice(index, 1);
  if (fault.delay_ms) await new Promise((resolve) => { setTimeout(resolve, fault.delay_ms); });
  if (fault.status === undefined) return false; // a delay only
  if (fault.status === 0) {
    req.socket.destroy();
    return true;
  }
  const body = fault.body === undefined
    ? JSON.stringify({ error: 'injected_fault', error_description: `status ${fault.status}` })
    : (typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body));
  res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.headers ?? {}) });
  res.end(body);
  return true;
}

async function handle(req, res) {
  const url = new URL(req.url, issuer);
  const path = url.pathname;
  res.on('finish', () => console.error(`idp: ${req.method} ${req.url} -> ${res.statusCode}`));

  if (path.startsWith('/__control/')) {
    await controlRoute(req, res, path);
    return;
  }

  if (requests.length < 10000) {
    requests.push({ method: req.method, path, query: Object.fromEntries(url.searchParams) });
  }
  if (await applyFault(req, res, path)) return;

  const match = path.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
  if (match) {
    await interactionRoute(provider, req, res, match[1], match[2] ?? 'show');
    return;
  }
  providerHandler(req, res);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error('idp: handler error:', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err?.message) });
    else res.destroy();
  });
});

server.listen(Number(config.port ?? 0), '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  signingKey = newSigningKey();
  rebuildProvider();
  process.stdout.write(`READY ${issuer}\n`);
});

function shutdown() {
  server.close();
  process.exit(0);
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
