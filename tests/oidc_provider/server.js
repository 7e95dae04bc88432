// A real OpenID Connect provider for tests/test_oidc.py: node-oidc-provider on loopback, with
// one client, two test people, and plain HTML login and consent pages that the test fills in
// as a browser would. Started by the test's fixture:
//
//   PORT=… REDIRECT_URI=… POST_LOGOUT_REDIRECT_URI=… CLIENT_ID=… CLIENT_SECRET=… \
//     node tests/oidc_provider/server.js
//
// The login form takes a person's name. "<name>~<fault>" signs that same person in, but the
// token endpoint then answers with a faulty ID token, re-signed here after the provider made
// it: "expired" (expired an hour and a half ago), "wrong-nonce" (another nonce),
// "other-audience" (for another client), "other-issuer" (from another provider),
// "foreign-key" (signed by a key the provider does not publish, under the published key's
// id), "unknown-key" (the same, under an id the provider never published).

import http from 'node:http';

import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const { PORT, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI, CLIENT_ID, CLIENT_SECRET } = process.env;
const ISSUER = `http://127.0.0.1:${PORT}`;
const KEY_ID = 'parcours-test';

// The people who can sign in. SubjectNameID as Pro Santé Connect gives it: the national
// identifier of the professional, "8" + the RPPS number.
const PEOPLE = {
  camille: {
    SubjectNameID: '810001234567',
    given_name: 'Camille',
    family_name: 'Durand',
    email: 'camille.durand@example.org',
  },
  dominique: { given_name: 'Dominique', family_name: 'Martin' }, // no RPPS number
};
const FAULTS = new Set([
  'expired', 'wrong-nonce', 'other-audience', 'other-issuer', 'foreign-key', 'unknown-key',
]);

function personOf(accountId) {
  const [name, fault] = String(accountId).split('~');
  if (!Object.hasOwn(PEOPLE, name) || (fault !== undefined && !FAULTS.has(fault))) return null;
  return { claims: PEOPLE[name], fault };
}

const signing = await generateKeyPair('RS256', { extractable: true });
const foreign = await generateKeyPair('RS256');

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: [POST_LOGOUT_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: {
    openid: ['sub'],
    profile: ['family_name', 'given_name', 'SubjectNameID'],
    email: ['email'],
  },
  cookies: { keys: ['cle-des-cookies-du-fournisseur-de-test'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  jwks: { keys: [{ ...(await exportJWK(signing.privateKey)), kid: KEY_ID, alg: 'RS256', use: 'sig' }] },
  pkce: { required: () => true },
  ttl: { AccessToken: 600, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
  async findAccount(ctx, accountId) {
    const person = personOf(accountId);
    if (!person) return undefined;
    return { accountId, claims: async () => ({ sub: accountId, ...person.claims }) };
  },
});

// The faults, on the token endpoint's answer.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route !== 'token' || !ctx.body?.id_token) return;
  const claims = decodeJwt(ctx.body.id_token);
  const { fault } = personOf(claims.sub) ?? {};
  if (!fault) return;
  const header = decodeProtectedHeader(ctx.body.id_token);
  let key = signing.privateKey;
  if (fault === 'expired') {
    claims.iat -= 2 * 3600;
    claims.exp = claims.iat + 1800;
  } else if (fault === 'wrong-nonce') {
    claims.nonce = 'un-autre-nonce';
  } else if (fault === 'other-audience') {
    claims.aud = 'un-autre-client';
  } else if (fault === 'other-issuer') {
    claims.iss = 'https://un-autre-fournisseur.example';
  } else {
    key = foreign.privateKey;
    if (fault === 'unknown-key') header.kid = 'cle-jamais-publiee';
  }
  ctx.body.id_token = await new SignJWT(claims).setProtectedHeader(header).sign(key);
});

function page(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html lang="fr"><meta charset="utf-8"><title>Fournisseur de test</title>${body}</html>`);
}

function form(id, uid, action, fields = '') {
  return `<form id="${id}" method="post" action="/interaction/${uid}/${action}">${fields}`
    + `<button type="submit">${id}</button></form>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

// The interaction pages: GET shows the login or the consent form, POST acts on it.
async function interaction(req, res, action) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (req.method === 'GET') {
    const fields = prompt.name === 'login'
      ? form('login', uid, 'login', '<input name="login" autocomplete="username">')
      : form('confirm', uid, 'confirm');
    return page(res, 200, `<h1>${prompt.name}</h1>${fields}${form('abort', uid, 'abort')}`);
  }
  const posted = await readForm(req);
  if (action === 'abort') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (action === 'login' && prompt.name === 'login') {
    const accountId = posted.get('login') ?? '';
    if (!personOf(accountId)) return page(res, 400, '<p>Personne inconnue.</p>');
    const result = { login: { accountId } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }
  return page(res, 400, '<p>Action inconnue.</p>');
}

const handle = provider.callback();
const INTERACTION = /^\/interaction\/[^/]+(?:\/(login|confirm|abort))?$/;

http.createServer(async (req, res) => {
  const match = new URL(req.url, ISSUER).pathname.match(INTERACTION);
  if (!match) return handle(req, res);
  try {
    return await interaction(req, res, match[1]);
  } catch (error) {
    console.error(error);
    return page(res, 400, `<p>${error.name}</p>`);
  }
}).listen(Number(PORT), '127.0.0.1', () => console.log(`provider ready on ${ISSUER}`));
