/**
 * The consent page of the local Supabase Auth stand-in (dev/auth/).
 *
 * In a real deployment this page belongs to the Atomic CRM web app: Supabase Auth redirects the
 * browser to `SITE_URL + "/#/oauth/consent?authorization_id=…"` and the app, with the user's own
 * session, calls the consent API. Here the "site" is the stand-in itself, served at `/` and
 * hash-routed the same way, so the browser-level flow (sign in → details → Approve/Deny → redirect)
 * is the one a user sees with the real app.
 *
 * Self-contained: no external scripts, styles or fonts. Every control has a visible label so tests
 * can drive it by role/label (Email, Password, "Sign in", "Approve", "Deny").
 */
export function consentPageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Authorize application — Atomic CRM (local)</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: .95rem; font-weight: 600; color: #555; letter-spacing: .02em; text-transform: uppercase; }
  h2 { font-size: 1.4rem; }
  label { display: block; margin-top: .8rem; font-weight: 600; }
  input { display: block; width: 100%; padding: .4rem; margin-top: .2rem; box-sizing: border-box; }
  button { margin-top: 1rem; margin-right: .5rem; padding: .5rem 1.2rem; border-radius: 6px; border: 1px solid #999; background: #fff; font: inherit; cursor: pointer; }
  button[type=submit], #approve { background: #1d4ed8; border-color: #1d4ed8; color: #fff; }
  [role=alert] { color: #a00; margin-top: 1rem; }
  [hidden] { display: none !important; }
  .scopes li { font-family: ui-monospace, monospace; }
</style>
</head>
<body>
<main>
  <h1 id="title">Atomic CRM</h1>
  <p id="status" role="status"></p>

  <form id="signin" aria-labelledby="signin-heading" hidden>
    <h2 id="signin-heading">Sign in</h2>
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button>
  </form>

  <section id="consent" aria-labelledby="consent-heading" hidden>
    <h2 id="consent-heading"></h2>
    <p>Signed in as <strong id="user-email"></strong>.</p>
    <p>It will be able to access your Atomic CRM data with these scopes:</p>
    <ul class="scopes" id="scopes" aria-label="Requested scopes"></ul>
    <p>Redirects to <code id="redirect-uri"></code></p>
    <button type="button" id="approve">Approve</button>
    <button type="button" id="deny">Deny</button>
  </section>

  <div id="error" role="alert"></div>
</main>
<script>
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var api = location.origin + '/auth/v1';
  var token = null;

  function authorizationId() {
    var hash = location.hash || '';
    var q = hash.indexOf('?');
    if (hash.slice(0, q < 0 ? undefined : q) !== '#/oauth/consent' || q < 0) return null;
    return new URLSearchParams(hash.slice(q + 1)).get('authorization_id');
  }
  function showError(msg) { $('error').textContent = msg; }
  function status(msg) { $('status').textContent = msg; }
  function describe(body, fallback) {
    if (body && typeof body === 'object') return body.msg || body.error_description || body.error || fallback;
    return fallback;
  }
  async function call(method, path, body) {
    var headers = { 'Accept': 'application/json' };
    if (token) headers['Authorization'] = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    var res = await fetch(api + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
    var json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    return { ok: res.ok, status: res.status, body: json };
  }
  function go(url) { status('Redirecting…'); location.assign(url); }

  var id = authorizationId();
  if (!id) {
    $('title').textContent = 'Atomic CRM (local Supabase Auth stand-in)';
    status('No authorization request. Open this page through an OAuth client.');
    return;
  }
  $('signin').hidden = false;
  $('email').focus();

  $('signin').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    showError('');
    status('Signing in…');
    var r = await call('POST', '/token?grant_type=password', { email: $('email').value, password: $('password').value });
    if (!r.ok) { status(''); showError(describe(r.body, 'Sign-in failed')); return; }
    token = r.body.access_token;
    status('Loading authorization request…');
    var d = await call('GET', '/oauth/authorizations/' + encodeURIComponent(id));
    if (!d.ok) { status(''); showError(describe(d.body, 'Could not load the authorization request')); return; }
    if (d.body.redirect_url) { go(d.body.redirect_url); return; } // consent already given: auto-approved
    $('signin').hidden = true;
    var name = (d.body.client && d.body.client.name) || 'An application';
    $('consent-heading').textContent = name + ' wants to access your account';
    $('user-email').textContent = (d.body.user && d.body.user.email) || '';
    $('redirect-uri').textContent = d.body.redirect_uri || '';
    var list = $('scopes');
    list.textContent = '';
    String(d.body.scope || '').split(/\\s+/).filter(Boolean).forEach(function (s) {
      var li = document.createElement('li'); li.textContent = s; list.appendChild(li);
    });
    $('consent').hidden = false;
    status('');
    $('approve').focus();
  });

  async function decide(action) {
    showError('');
    $('approve').disabled = true; $('deny').disabled = true;
    var r = await call('POST', '/oauth/authorizations/' + encodeURIComponent(id) + '/consent', { action: action });
    if (!r.ok || !r.body || !r.body.redirect_url) {
      $('approve').disabled = false; $('deny').disabled = false;
      showError(describe(r.body, 'Could not record your decision'));
      return;
    }
    go(r.body.redirect_url);
  }
  $('approve').addEventListener('click', function () { decide('approve'); });
  $('deny').addEventListener('click', function () { decide('deny'); });
})();
</script>
</body>
</html>
`;
}
