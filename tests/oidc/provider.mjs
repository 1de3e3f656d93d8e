// A standards-complete OpenID Connect provider (oidc-provider) standing in for Google in
// CourseHub's sign-in tests. Discovery, authorization with PKCE, token, userinfo and signed ID
// tokens are the library's own; this file only supplies configuration, the people it knows,
// and two small pages (sign-in and consent) driven through the library's interaction API.
//
// Everything comes from the environment:
//   PROVIDER_PORT           port to listen on, on 127.0.0.1 (required)
//   PROVIDER_ISSUER         issuer URL (default http://127.0.0.1:$PROVIDER_PORT)
//   PROVIDER_CLIENT_ID      CourseHub's client id (required)
//   PROVIDER_CLIENT_SECRET  CourseHub's client secret (required)
//   PROVIDER_REDIRECT_URI   CourseHub's redirect URI, {public URL}/hub/oauth_callback (required)
//   PROVIDER_ACCOUNTS       JSON list of people:
//                           [{"sub", "email", "email_verified", "name", "password"}, ...]
// When it listens it prints one line: "oidc provider ready at <issuer>".

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PROVIDER_PORT'));
const issuer = process.env.PROVIDER_ISSUER || `http://127.0.0.1:${port}`;
const clientId = required('PROVIDER_CLIENT_ID');
const clientSecret = required('PROVIDER_CLIENT_SECRET');
const redirectUri = required('PROVIDER_REDIRECT_URI');
const people = JSON.parse(required('PROVIDER_ACCOUNTS'));

const bySubject = new Map(people.map((person) => [String(person.sub), person]));
const byEmail = new Map(people.map((person) => [person.email.toLowerCase(), person]));

// A fresh signing key per run, so no key material lives in the repository.
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ format: 'jwk' });

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Pages use no outside resources (fonts, scripts): the test browser reaches only this machine.
function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><main>${body}</main></body></html>`;
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    client_name: 'CourseHub',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(ctx, sub) {
    const person = bySubject.get(String(sub));
    if (!person) {
      return undefined;
    }
    return {
      accountId: String(person.sub),
      async claims() {
        return {
          sub: String(person.sub),
          email: person.email,
          email_verified: person.email_verified === true,
          name: person.name,
        };
      },
    };
  },
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async renderError(ctx, out) {
    ctx.type = 'html';
    const lines = Object.entries(out)
      .map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: ${escapeHtml(value)}</p>`);
    ctx.body = page('Sign-in error', `<h1>Something went wrong</h1>${lines.join('')}`);
  },
});

function signInPage(uid, { email = '', error = '' } = {}) {
  return page('Sign in', `
<h1>Sign in</h1>
<p>to continue to CourseHub</p>
${error ? `<p id="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required
         value="${escapeHtml(email)}" autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button id="next" type="submit">Next</button>
</form>`);
}

function consentPage(uid, person, scopes) {
  const items = scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('');
  return page('Allow access', `
<h1>CourseHub wants to access your account</h1>
<p>Signed in as <span id="account_email">${escapeHtml(person.email)}</span></p>
<ul id="scopes">${items}</ul>
<form method="post" action="/interaction/${escapeHtml(uid)}/confirm">
  <button id="allow" type="submit">Allow</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button id="cancel" type="submit">Cancel</button>
</form>`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(html);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, page('Sign-in error', '<p>This sign-in page has expired; start again.</p>'));
    return;
  }
  const { prompt, params, session } = details;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      send(res, 200, signInPage(uid, { email: params.login_hint || '' }));
    } else {
      const person = bySubject.get(String(session.accountId));
      send(res, 200, consentPage(uid, person, String(params.scope || '').split(' ')));
    }
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, page('Not allowed', '<p>Method not allowed.</p>'));
    return;
  }

  if (action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    const email = form.get('email') || '';
    const person = byEmail.get(email.toLowerCase());
    if (!person || person.password !== form.get('password')) {
      send(res, 200, signInPage(uid, { email, error: 'Wrong email or password.' }));
      return;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: String(person.sub) },
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) {
      grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    }
    if (missing.missingOIDCClaims) {
      grant.addOIDCClaims(missing.missingOIDCClaims);
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
    return;
  }

  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'The person declined to share their account with CourseHub.',
    }, { mergeWithLastSubmission: false });
    return;
  }

  send(res, 400, page('Sign-in error', '<p>This step does not belong here; start again.</p>'));
}

const handleProvider = provider.callback();
const interactionPath = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/;

const server = createServer((req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const match = interactionPath.exec(path);
  if (!match) {
    handleProvider(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((error) => {
    console.error(error);
    if (!res.headersSent) {
      send(res, 400, page('Sign-in error', `<p>${escapeHtml(error.message)}</p>`));
    }
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc provider ready at ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
