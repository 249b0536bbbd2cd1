// The operator console: a client of the management API (/manage/v1) and
// nothing else. Plain ES module, no build step; the server embeds this file.
// Every value from the API reaches the page through textContent (h() below),
// never through innerHTML.

const API = '/manage/v1';
const CSRF = document.querySelector('meta[name="csrf-token"]')?.content ?? '';
const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const POLL_MS = 2000;

// ------------------------------------------------------------------ DOM

/** h('tag.class', {attr: value, onclick: fn}, ...children) */
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svgIcon(name) {
  const paths = {
    copy: 'M9 9h10v10H9zM5 15V5h10',
    refresh: 'M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7',
    check: 'M5 12l5 5L20 7',
    x: 'M6 6l12 12M18 6L6 18',
    plus: 'M12 5v14M5 12h14',
    search: 'M11 18a7 7 0 1 1 0-14 7 7 0 0 1 0 14zM21 21l-5-5',
    key: 'M15 7a4 4 0 1 1-3.9 5H3v3h3v3h3v-3h2.1A4 4 0 0 1 15 7z',
    alert: 'M12 9v4M12 17h.01M10.3 3.9L2 18a2 2 0 0 0 1.7 3h16.6a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z',
  };
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', paths[name]);
  svg.append(p);
  return svg;
}

// ------------------------------------------------------------------ formatting

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnlyFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const numFmt = new Intl.NumberFormat();

function num(n) {
  return typeof n === 'number' ? numFmt.format(n) : '—';
}

function relative(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((Date.now() - t) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  let text;
  if (a < 45) text = 'just now';
  else if (a < 3600) text = `${Math.round(a / 60)} min`;
  else if (a < 86400) text = `${Math.round(a / 3600)} h`;
  else text = `${Math.round(a / 86400)} d`;
  if (text === 'just now') return text;
  return future ? `in ${text}` : `${text} ago`;
}

/** A <time> showing the local date and time, the ISO value on hover. */
function time(iso, { rel = false, dateOnly = false } = {}) {
  if (!iso) return h('span.muted', '—');
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return h('span', iso);
  const shown = dateOnly ? dateOnlyFmt.format(t) : dateFmt.format(t);
  const el = h('time', { datetime: iso, title: iso }, shown);
  if (rel) return h('span.time', el, h('span.muted.rel', ` · ${relative(iso)}`));
  return el;
}

function statusClass(status) {
  const c = Math.floor(Number(status) / 100);
  return { 2: 'ok', 3: 'info', 4: 'warn', 5: 'bad' }[c] ?? 'neutral';
}

function httpPill(status, testid) {
  return h(`span.pill.pill-${statusClass(status)}.mono`, { testid, title: `HTTP ${status}` }, String(status));
}

function tenantPill(status) {
  const cls = status === 'active' ? 'ok' : status === 'deleting' ? 'bad' : 'neutral';
  return h(`span.pill.pill-${cls}`, { testid: 'tenant-status' }, h('span.dot', { 'aria-hidden': 'true' }), status);
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

let sessionExpired = false;

/** One management call; JSON in and out. Throws ApiError (status 0: network). */
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = CSRF;
  let res;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The console cannot reach the server: is scim-local still running?');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const requestId = json?.requestId ?? res.headers.get('x-request-id') ?? undefined;
    const message = json?.message ?? `${res.status} ${res.statusText || 'error'}`;
    throw new ApiError(res.status, json?.code ?? 'http_' + res.status, message, requestId);
  }
  return json;
}

const enc = encodeURIComponent;

/** Shows an error where it belongs: 401 and 5xx/network in a banner, a 4xx
 *  inline when the caller has a place for it (else in a banner too). */
function reportError(err, inline) {
  if (!(err instanceof ApiError)) {
    console.warn(err);
    banner('error', `Something went wrong in the console: ${err?.message ?? err}`);
    return;
  }
  if (err.status === 401) {
    showSessionExpired();
    return;
  }
  if (err.status >= 400 && err.status < 500 && inline) {
    inline.textContent = err.message;
    inline.hidden = false;
    return;
  }
  const prefix = err.status === 0 ? 'Network error' : err.status >= 500 ? `Server error (${err.status})` : `Error ${err.status}`;
  banner('error', `${prefix}: ${err.message}`, err.requestId);
}

// ------------------------------------------------------------------ banners, toasts

const banners = () => document.getElementById('banners');

function banner(kind, message, requestId, testid = 'error-banner') {
  // The same message twice is shown once.
  for (const b of banners().children) {
    if (b.dataset.message === message) return b;
  }
  const el = h(`div.banner.banner-${kind}`, { role: 'alert', testid },
    svgIcon('alert'),
    h('div.banner-text', h('span', { testid: 'banner-message' }, message),
      requestId ? h('span.muted.banner-meta', ` Request id ${requestId}.`) : null),
    h('button.btn-icon', {
      type: 'button', 'aria-label': 'Dismiss', testid: 'banner-dismiss',
      onclick: () => el.remove(),
    }, svgIcon('x')));
  el.dataset.message = message;
  banners().append(el);
  return el;
}

function showSessionExpired() {
  if (sessionExpired) return;
  sessionExpired = true;
  stopPolling();
  banner('warn', 'Session expired: open the login link printed by scim-local again.', undefined, 'session-expired');
  viewToken += 1;
  sessionEndedView();
}

function sessionEndedView() {
  view().replaceChildren(h('div.card.empty-state', { testid: 'session-ended' },
    h('h1', 'Session expired'),
    h('p', 'The console shows nothing without a session. Each login link works once: ',
      'the terminal running scim-local (or scim-admin console) prints the next one.')));
}

function toast(message) {
  const el = h('div.toast', { role: 'status', testid: 'toast' }, svgIcon('check'), message);
  document.getElementById('toasts').append(el);
  setTimeout(() => el.classList.add('toast-out'), 2800);
  setTimeout(() => el.remove(), 3200);
}

// ------------------------------------------------------------------ clipboard

async function copyText(text, button) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // Fallback for browsers without the async clipboard in this context.
    const ta = h('textarea.offscreen', { readonly: true, 'aria-hidden': 'true' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
  }
  if (button) {
    const label = button.querySelector('.btn-label');
    const before = label?.textContent;
    button.classList.add(ok ? 'copied' : 'copy-failed');
    if (label) label.textContent = ok ? 'Copied' : 'Select and press Ctrl+C';
    setTimeout(() => {
      button.classList.remove('copied', 'copy-failed');
      if (label) label.textContent = before;
    }, 1600);
  }
}

function copyButton(getText, testid, label = 'Copy') {
  const b = h('button.btn.btn-sm', { type: 'button', testid }, svgIcon('copy'), h('span.btn-label', label));
  b.addEventListener('click', () => copyText(getText(), b));
  return b;
}

/** A read-only value with a copy button (Tenant URL, secret). */
function copyField(value, { testid, copyTestid, label, secret = false }) {
  const input = h('input.input.mono', {
    readonly: true, value, 'aria-label': label, testid, spellcheck: 'false',
    class: secret ? 'secret' : undefined,
    onfocus: (e) => e.target.select(),
  });
  return h('div.copy-field', input, copyButton(() => input.value, copyTestid));
}

// ------------------------------------------------------------------ confirm dialog

/** Resolves true when the operator confirms; `typed` must be typed exactly. */
function confirmDialog({ title, text, confirmLabel, typed }) {
  const dlg = document.getElementById('confirm');
  const input = document.getElementById('confirm-input');
  const ok = document.getElementById('confirm-ok');
  const typedBox = document.getElementById('confirm-typed');
  document.getElementById('confirm-title').textContent = title;
  const textBox = document.getElementById('confirm-text');
  textBox.replaceChildren(...[text].flat().map((t) => (t instanceof Node ? t : h('p', t))));
  ok.textContent = confirmLabel;
  input.value = '';
  typedBox.hidden = !typed;
  if (typed) {
    const label = document.getElementById('confirm-label');
    label.replaceChildren('Type ', h('code', typed), ' to confirm');
  }
  const sync = () => {
    ok.disabled = typed ? input.value !== typed : false;
  };
  sync();
  return new Promise((resolve) => {
    const onInput = () => sync();
    const cancel = document.getElementById('confirm-cancel');
    const onCancel = () => dlg.close('cancel');
    const onClose = () => {
      input.removeEventListener('input', onInput);
      cancel.removeEventListener('click', onCancel);
      dlg.removeEventListener('close', onClose);
      const yes = dlg.returnValue === 'ok' && (!typed || input.value === typed);
      dlg.returnValue = '';
      resolve(yes);
    };
    input.addEventListener('input', onInput);
    cancel.addEventListener('click', onCancel);
    dlg.addEventListener('close', onClose);
    dlg.returnValue = '';
    dlg.showModal();
    (typed ? input : cancel).focus();
  });
}

// ------------------------------------------------------------------ polling

// One timer per view: a view change stops it.
let pollTimer = null;
let viewToken = 0;

function stopPolling() {
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
}

function poll(fn, token) {
  stopPolling();
  pollTimer = setTimeout(async () => {
    pollTimer = null;
    if (token !== viewToken || sessionExpired) return;
    await fn();
  }, POLL_MS);
}

// ------------------------------------------------------------------ router

const view = () => document.getElementById('view');

function route() {
  stopPolling();
  viewToken += 1;
  const token = viewToken;
  const hash = location.hash.replace(/^#/, '') || '/tenants';
  const parts = hash.split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === parts[0]);
  }
  if (sessionExpired) return sessionEndedView();
  // A new view drops everything the previous one showed (a token's secret
  // included: it lives only in that view's DOM).
  view().replaceChildren();
  if (parts[0] === 'tenants' && parts.length === 1) return tenantsView(token);
  if (parts[0] === 'tenants' && parts.length === 2) return tenantView(parts[1], token);
  if (parts[0] === 'tenants' && parts.length === 3 && parts[2] === 'requests') return requestLogView(parts[1], token);
  view().replaceChildren(
    h('div.empty-state', h('h1', 'Page not found'), h('p', h('a', { href: '#/tenants' }, 'Back to tenants'))),
  );
  document.title = 'Not found · SCIM console';
}

// ------------------------------------------------------------------ tenants list

function tenantsView(token) {
  document.title = 'Tenants · SCIM console';
  const state = { prefix: '', cursor: undefined, rows: new Map(), loading: false };

  const tbody = h('tbody', { testid: 'tenant-rows' });
  const empty = h('div.empty-state', { hidden: true, testid: 'tenants-empty' });
  const loadMore = h('button.btn', { type: 'button', hidden: true, testid: 'load-more', onclick: () => load(false) }, 'Load more');
  const count = h('span.muted.count', { testid: 'tenant-count' });
  const search = h('input.input', {
    type: 'search', placeholder: 'Filter by id prefix', 'aria-label': 'Filter tenants by id prefix',
    testid: 'tenant-search', autocomplete: 'off', spellcheck: 'false',
  });
  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.prefix = search.value.trim().toLowerCase();
      load(true);
    }, 250);
  });

  const form = createTenantForm(token);
  const newBtn = h('button.btn.btn-primary', {
    type: 'button', testid: 'new-tenant',
    onclick: () => {
      form.hidden = !form.hidden;
      if (!form.hidden) form.querySelector('input').focus();
    },
  }, svgIcon('plus'), 'New tenant');

  view().append(
    h('div.page-header',
      h('div', h('h1', 'Tenants'), h('p.subtitle', 'Each tenant is one customer directory, with its own SCIM endpoint and tokens.')),
      newBtn),
    form,
    h('section.card',
      h('div.card-toolbar', h('div.search', svgIcon('search'), search), count),
      h('div.table-wrap',
        h('table.table', { testid: 'tenants-table' },
          h('thead', h('tr',
            h('th.col-tenant', { scope: 'col' }, 'Tenant'),
            h('th.col-status', { scope: 'col' }, 'Status'),
            h('th.num.col-tokens', { scope: 'col' }, 'Tokens'),
            h('th', { scope: 'col' }, 'Created'),
            h('th.actions', { scope: 'col' }, h('span.visually-hidden', 'Actions')))),
          tbody)),
      empty,
      h('div.card-footer', loadMore)),
  );

  function row(t) {
    const deleting = t.status === 'deleting';
    const progress = deleting && t.deletion
      ? h('div.progress-text', { testid: 'deletion-progress' },
        `${t.deletion.phase === 'waiting' ? 'Waiting for requests to drain' : 'Purging'} · ${num(t.deletion.itemsDeleted)} items deleted`)
      : null;
    return h('tr', { testid: `tenant-row-${t.id}`, class: deleting ? 'row-deleting' : undefined },
      h('td',
        h('a.row-link', { href: `#/tenants/${enc(t.id)}`, testid: 'tenant-link' },
          h('span.mono.strong', t.id)),
        t.displayName ? h('div.muted.small', t.displayName) : null),
      h('td', tenantPill(t.status), progress),
      h('td.num', num(t.tokenCount)),
      h('td', time(t.created, { dateOnly: false })),
      h('td.actions', deleting ? null : h('button.btn.btn-sm.btn-danger-ghost', {
        type: 'button', testid: `delete-${t.id}`, 'aria-label': `Delete tenant ${t.id}`,
        onclick: () => deleteTenant(t.id),
      }, 'Delete')));
  }

  function render() {
    const rows = [...state.rows.values()];
    tbody.replaceChildren(...rows.map(row));
    empty.hidden = rows.length > 0 || state.loading;
    empty.replaceChildren(state.prefix
      ? h('p', 'No tenant id starts with ', h('code', state.prefix), '.')
      : h('p', 'No tenants yet. Create one for each customer that connects an identity provider.'));
    loadMore.hidden = !state.cursor;
    count.textContent = rows.length ? `${rows.length}${state.cursor ? '+' : ''} shown` : '';
  }

  async function load(reset) {
    if (reset) {
      state.cursor = undefined;
    }
    state.loading = true;
    loadMore.disabled = true;
    const q = new URLSearchParams({ limit: '50' });
    if (state.prefix) q.set('prefix', state.prefix);
    if (!reset && state.cursor) q.set('cursor', state.cursor);
    try {
      const page = await api('GET', `/tenants?${q}`);
      if (token !== viewToken) return;
      if (reset) state.rows.clear();
      for (const t of page.tenants ?? []) state.rows.set(t.id, t);
      state.cursor = page.nextCursor;
    } catch (e) {
      reportError(e);
    } finally {
      state.loading = false;
      loadMore.disabled = false;
      if (token === viewToken) {
        render();
        schedule();
      }
    }
  }

  // Tenants being deleted are re-read until they answer 404.
  function schedule() {
    if ([...state.rows.values()].some((t) => t.status === 'deleting')) poll(refreshDeleting, token);
  }

  async function refreshDeleting() {
    const deleting = [...state.rows.values()].filter((t) => t.status === 'deleting');
    for (const t of deleting) {
      try {
        const fresh = await api('GET', `/tenants/${enc(t.id)}`);
        state.rows.set(t.id, fresh);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          state.rows.delete(t.id);
          toast(`Tenant ${t.id} deleted`);
        } else {
          reportError(e);
          return;
        }
      }
    }
    if (token !== viewToken) return;
    render();
    schedule();
  }

  async function deleteTenant(id) {
    const t = await confirmDeleteTenant(id);
    if (!t) return;
    state.rows.set(id, t);
    render();
    schedule();
  }

  load(true);
}

/** Asks, then deletes; resolves to the tenant in `deleting` status, or null. */
async function confirmDeleteTenant(id) {
  const yes = await confirmDialog({
    title: `Delete tenant ${id}?`,
    text: [
      'Its tokens stop working at once and every user, group and membership is purged in the background. This cannot be undone.',
    ],
    confirmLabel: 'Delete tenant',
    typed: id,
  });
  if (!yes) return null;
  try {
    const t = await api('DELETE', `/tenants/${enc(id)}`);
    toast(`Deleting tenant ${id}`);
    return t ?? { id, status: 'deleting' };
  } catch (e) {
    reportError(e);
    return null;
  }
}

function validateTenantId(v) {
  if (!v) return 'Required.';
  if (v.length > 63) return 'At most 63 characters.';
  if (/[A-Z]/.test(v)) return 'Lowercase only.';
  if (/[^a-z0-9-]/.test(v)) return 'Only lowercase letters, digits and "-".';
  if (v.startsWith('-') || v.endsWith('-')) return 'Cannot start or end with "-".';
  return TENANT_ID.test(v) ? '' : 'Not a valid tenant id.';
}

function createTenantForm(token) {
  const idInput = h('input.input.mono', {
    id: 'new-tenant-id', name: 'id', required: true, maxlength: 63, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'acme', testid: 'tenant-id-input', 'aria-describedby': 'new-tenant-id-hint',
  });
  const nameInput = h('input.input', {
    id: 'new-tenant-name', name: 'displayName', maxlength: 256, autocomplete: 'off',
    placeholder: 'Acme Corp', testid: 'tenant-name-input',
  });
  const idHint = h('p.hint', { id: 'new-tenant-id-hint', testid: 'tenant-id-hint' },
    '1–63 lowercase letters, digits and "-". Part of the Tenant URL; it cannot be changed.');
  const formError = h('p.form-error', { hidden: true, role: 'alert', testid: 'create-tenant-error' });
  const submit = h('button.btn.btn-primary', { type: 'submit', testid: 'create-tenant' }, 'Create tenant');
  let touched = false;

  const check = () => {
    const msg = validateTenantId(idInput.value);
    const show = touched && msg;
    idInput.setAttribute('aria-invalid', show ? 'true' : 'false');
    idHint.classList.toggle('hint-error', !!show);
    idHint.textContent = show ? msg : '1–63 lowercase letters, digits and "-". Part of the Tenant URL; it cannot be changed.';
    submit.disabled = !!msg;
    return !msg;
  };
  idInput.addEventListener('input', () => {
    touched = true;
    formError.hidden = true;
    check();
  });
  nameInput.addEventListener('input', () => { formError.hidden = true; });

  const form = h('form.card.form-card', { hidden: true, testid: 'create-tenant-form', novalidate: true },
    h('h2.card-title', 'New tenant'),
    h('div.form-grid',
      h('div.field', h('label', { for: 'new-tenant-id' }, 'Tenant id'), idInput, idHint),
      h('div.field', h('label', { for: 'new-tenant-name' }, 'Display name ', h('span.muted', '(optional)')), nameInput,
        h('p.hint', 'Shown to your support team, at most 256 characters.'))),
    formError,
    h('div.form-actions',
      h('button.btn', { type: 'button', onclick: () => { form.hidden = true; } }, 'Cancel'),
      submit));
  check();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    touched = true;
    if (!check()) return;
    submit.disabled = true;
    formError.hidden = true;
    const body = { id: idInput.value };
    if (nameInput.value.trim()) body.displayName = nameInput.value.trim();
    try {
      const t = await api('POST', '/tenants', body);
      if (token !== viewToken) return;
      toast(`Tenant ${t.id} created`);
      location.hash = `#/tenants/${enc(t.id)}`;
    } catch (err) {
      reportError(err, formError);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ------------------------------------------------------------------ tenant page

function tenantView(id, token) {
  document.title = `${id} · SCIM console`;
  const header = h('div.tenant-header', { testid: 'tenant-header' }, h('p.muted', 'Loading…'));
  const deletionBox = h('div');
  const secretSlot = h('div');
  const healthBody = h('div.health', { testid: 'health' }, h('p.muted', 'Loading…'));
  const healthUpdated = h('span.muted.small', { testid: 'health-updated' });
  const tokensBody = h('div', { testid: 'tokens' }, h('p.muted.pad', 'Loading…'));
  const howTo = h('section.card.howto', { testid: 'how-to-connect' });
  let tenant = null;

  const healthRefresh = h('button.btn.btn-sm', {
    type: 'button', testid: 'health-refresh', 'aria-label': 'Refresh health',
    onclick: () => loadHealth(true),
  }, svgIcon('refresh'), 'Refresh');

  const issueForm = issueTokenForm(id, token, (issued) => {
    showSecret(issued);
    loadTokens();
  });
  const issueBtn = h('button.btn.btn-primary.btn-sm', {
    type: 'button', testid: 'issue-token',
    onclick: () => {
      issueForm.hidden = !issueForm.hidden;
      if (!issueForm.hidden) issueForm.querySelector('input').focus();
    },
  }, svgIcon('plus'), 'Issue token');

  const layout = h('div.tenant-layout',
    h('section.card.health-card',
      h('div.card-head', h('h2.card-title', 'Health'), h('div.card-head-actions', healthUpdated,
        h('a.btn.btn-sm', { href: `#/tenants/${enc(id)}/requests`, testid: 'open-request-log' }, 'Request log'),
        healthRefresh)),
      healthBody),
    howTo,
    h('section.card.tokens-card',
      h('div.card-head', h('h2.card-title', 'Tokens'), issueBtn),
      issueForm,
      tokensBody));

  view().append(
    h('nav.breadcrumb', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/tenants' }, 'Tenants'), h('span', { 'aria-hidden': 'true' }, '/'), h('span.mono', id)),
    header, deletionBox, secretSlot, layout);

  function renderHeader() {
    const t = tenant;
    const deleting = t.status === 'deleting';
    header.replaceChildren(
      h('div.tenant-title',
        h('div',
          h('h1', { testid: 'tenant-title' }, t.displayName || t.id, ' ', tenantPill(t.status)),
          h('p.subtitle', h('span.mono', { testid: 'tenant-id' }, t.id), t.created ? [' · created ', time(t.created)] : null)),
        deleting ? null : h('button.btn.btn-danger-ghost', {
          type: 'button', testid: 'delete-tenant',
          onclick: async () => {
            const d = await confirmDeleteTenant(t.id);
            if (d) {
              tenant = { ...tenant, ...d, status: 'deleting' };
              renderAll();
              schedule();
            }
          },
        }, 'Delete tenant')),
      t.tenantUrl ? h('div.field.url-field',
        h('label', { for: 'tenant-url' }, 'Tenant URL'),
        copyField(t.tenantUrl, { testid: 'tenant-url', copyTestid: 'copy-tenant-url', label: 'Tenant URL' })) : null);
    const input = header.querySelector('[data-testid="tenant-url"]');
    if (input) input.id = 'tenant-url';
  }

  function renderDeletion() {
    const t = tenant;
    if (t.status !== 'deleting') {
      deletionBox.replaceChildren();
      return;
    }
    const d = t.deletion ?? {};
    deletionBox.replaceChildren(h('section.card.deletion-card', { testid: 'deletion' },
      h('div.spinner', { 'aria-hidden': 'true' }),
      h('div',
        h('h2.card-title', 'This tenant is being deleted'),
        h('p', 'Its tokens are refused. ',
          d.phase === 'purging'
            ? 'Its users, groups and memberships are being purged.'
            : 'Caches and requests in flight are draining before the purge starts.'),
        h('dl.inline-dl',
          h('dt', 'Phase'), h('dd', { testid: 'deletion-phase' }, d.phase ?? '—'),
          h('dt', 'Items deleted'), h('dd.tabular', { testid: 'deletion-items' }, num(d.itemsDeleted)),
          h('dt', 'Requested'), h('dd', time(d.requested, { rel: true }))))));
  }

  function renderHowTo() {
    howTo.replaceChildren(
      h('h2.card-title', 'How to connect'),
      h('p.small', 'In the identity provider, paste the ', h('strong', 'Tenant URL'), ' and a ', h('strong', 'token'), ' from this page:'),
      h('dl.howto-list',
        h('dt', 'Microsoft Entra ID'),
        h('dd', 'Enterprise application → Provisioning → Automatic. ', h('em', 'Tenant URL'), ' = Tenant URL, ', h('em', 'Secret Token'), ' = token. Then ', h('em', 'Test Connection'), '.'),
        h('dt', 'Okta'),
        h('dd', 'App → Provisioning → Integration. ', h('em', 'SCIM connector base URL'), ' = Tenant URL, ', h('em', 'Unique identifier'), ' = userName, auth mode ', h('em', 'HTTP Header'), ' with the token as Bearer.')),
      h('p.muted.small', 'Give each identity provider connection its own token, so one can be revoked without breaking the others.'));
  }

  function renderAll() {
    renderHeader();
    renderDeletion();
    const deleting = tenant.status === 'deleting';
    layout.hidden = deleting;
    if (deleting) secretSlot.replaceChildren();
  }

  function showSecret(issued) {
    // The only copy of the secret: held in this panel's DOM until the panel
    // is closed or the view changes; never stored anywhere else.
    const panel = h('section.card.secret-card', { testid: 'token-secret-panel', role: 'region', 'aria-label': 'New token' },
      h('div.card-head',
        h('h2.card-title', svgIcon('key'), `Token “${issued.name ?? issued.id}” issued`),
        h('button.btn-icon', { type: 'button', 'aria-label': 'Close', testid: 'secret-close', onclick: () => panel.remove() }, svgIcon('x'))),
      h('p.secret-note', { testid: 'secret-note' }, h('strong', 'Copy it now, it is not shown again. '),
        'The console keeps no copy; if it is lost, issue a new token and revoke this one.'),
      h('div.secret-grid',
        h('div.field', h('label', { for: 'new-token-secret' }, 'Token'),
          copyField(issued.token, { testid: 'token-secret', copyTestid: 'copy-token-secret', label: 'Token', secret: true })),
        h('div.field', h('label', { for: 'new-token-url' }, 'Tenant URL'),
          copyField(issued.tenantUrl ?? tenant?.tenantUrl ?? '', { testid: 'token-tenant-url', copyTestid: 'copy-token-tenant-url', label: 'Tenant URL' }))),
      h('p.muted.small', issued.expiresAt ? ['Expires ', time(issued.expiresAt), '.'] : 'Does not expire; revoke it when the connection is removed.'),
      h('div.form-actions', h('button.btn', { type: 'button', testid: 'secret-done', onclick: () => panel.remove() }, 'Done')));
    panel.querySelector('[data-testid="token-secret"]').id = 'new-token-secret';
    panel.querySelector('[data-testid="token-tenant-url"]').id = 'new-token-url';
    secretSlot.replaceChildren(panel);
    panel.scrollIntoView({ block: 'nearest' });
  }

  async function loadTenant() {
    try {
      tenant = await api('GET', `/tenants/${enc(id)}`);
      if (token !== viewToken) return false;
      document.title = `${tenant.displayName || id} · SCIM console`;
      renderAll();
      return true;
    } catch (e) {
      if (token !== viewToken) return false;
      if (e instanceof ApiError && e.status === 404) {
        const wasDeleting = tenant?.status === 'deleting';
        stopPolling();
        header.replaceChildren(h('div.empty-state', { testid: wasDeleting ? 'tenant-deleted' : 'tenant-not-found' },
          h('h1', wasDeleting ? `Tenant ${id} is deleted` : `No tenant ${id}`),
          h('p', wasDeleting ? 'Everything it held has been purged.' : e.message),
          h('p', h('a', { href: '#/tenants' }, 'Back to tenants'))));
        deletionBox.replaceChildren();
        secretSlot.replaceChildren();
        layout.hidden = true;
      } else {
        reportError(e);
      }
      return false;
    }
  }

  function schedule() {
    if (tenant?.status === 'deleting') {
      poll(async () => {
        if (await loadTenant()) schedule();
      }, token);
    }
  }

  async function loadHealth(manual) {
    healthRefresh.disabled = true;
    healthRefresh.classList.add('spinning');
    try {
      const health = await api('GET', `/tenants/${enc(id)}/health`);
      if (token !== viewToken) return;
      healthBody.replaceChildren(...renderHealth(health));
      healthUpdated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      if (manual) loadTokens();
    } catch (e) {
      if (token !== viewToken) return;
      if (e instanceof ApiError && e.status === 404) return;
      reportError(e);
    } finally {
      healthRefresh.disabled = false;
      healthRefresh.classList.remove('spinning');
    }
  }

  async function loadTokens() {
    try {
      const { tokens } = await api('GET', `/tenants/${enc(id)}/tokens`);
      if (token !== viewToken) return;
      tokensBody.replaceChildren(renderTokens(tokens ?? []));
    } catch (e) {
      if (token !== viewToken) return;
      if (e instanceof ApiError && e.status === 404) return;
      reportError(e);
    }
  }

  function renderTokens(tokens) {
    if (!tokens.length) {
      return h('div.empty-state.small', { testid: 'tokens-empty' },
        h('p', 'No tokens yet. Issue one for each identity provider connection.'));
    }
    tokens.sort((a, b) => String(b.created).localeCompare(String(a.created)));
    return h('div.table-wrap', h('table.table', { testid: 'tokens-table' },
      h('thead', h('tr',
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col' }, 'Id'),
        h('th', { scope: 'col' }, 'Created'),
        h('th', { scope: 'col' }, 'Expires'),
        h('th', { scope: 'col' }, 'Last used'),
        h('th.actions', { scope: 'col' }, h('span.visually-hidden', 'Actions')))),
      h('tbody', tokens.map((t) => {
        const expired = t.expiresAt && Date.parse(t.expiresAt) < Date.now();
        return h('tr', { testid: `token-row-${t.id}` },
          h('td.strong', { testid: 'token-name' }, t.name ?? h('span.muted', '(unnamed)')),
          h('td.mono.small', t.id),
          h('td', time(t.created)),
          h('td', t.expiresAt ? [time(t.expiresAt, { dateOnly: true }), expired ? [' ', h('span.pill.pill-bad', 'expired')] : null] : h('span.muted', 'Never')),
          h('td', { testid: 'token-last-used' }, t.lastUsed ? time(t.lastUsed, { rel: true }) : h('span.muted', 'Never used')),
          h('td.actions', h('button.btn.btn-sm.btn-danger-ghost', {
            type: 'button', testid: `revoke-${t.id}`, 'aria-label': `Revoke token ${t.name ?? t.id}`,
            onclick: () => revoke(t),
          }, 'Revoke')));
      }))));
  }

  async function revoke(t) {
    const yes = await confirmDialog({
      title: `Revoke token “${t.name ?? t.id}”?`,
      text: ['The identity provider using it gets 401 from its next request on, and provisioning through it stops until it is given a new token.'],
      confirmLabel: 'Revoke token',
    });
    if (!yes) return;
    try {
      await api('DELETE', `/tenants/${enc(id)}/tokens/${enc(t.id)}`);
      toast(`Token ${t.name ?? t.id} revoked`);
    } catch (e) {
      reportError(e);
    }
    loadTokens();
  }

  renderHowTo();
  (async () => {
    if (!(await loadTenant())) return;
    schedule();
    if (tenant.status === 'deleting') return;
    loadHealth(false);
    loadTokens();
  })();
}

// ------------------------------------------------------------------ request log

const ACTIONS = ['user.created', 'user.updated', 'user.deactivated', 'user.reactivated', 'user.deleted',
  'user.lookup', 'user.read', 'group.created', 'group.updated', 'group.members_added',
  'group.members_removed', 'group.deleted', 'group.read', 'list', 'discovery', 'rejected', 'failed'];

/** Whom a record is about, in one line. */
function targetText(r) {
  const t = r.target ?? {};
  const name = t.userName ?? t.displayName;
  if (name && t.externalId) return `${name} · ${t.externalId}`;
  return name ?? t.externalId ?? r.resourceId ?? '';
}

function actionLabel(r) {
  const added = r.change?.membersAdded?.total;
  const removed = r.change?.membersRemoved?.total;
  const extra = [added ? `+${added}` : null, removed ? `−${removed}` : null].filter(Boolean).join(' ');
  const cls = r.status >= 500 ? 'bad' : r.status >= 400 ? 'warn' : 'neutral';
  return h(`span.action.action-${cls}`, { testid: 'log-action' }, r.action, extra ? h('span.muted', ` ${extra}`) : null);
}

function jsonText(v) {
  if (v === undefined) return h('span.muted', '—');
  return h('code.value', typeof v === 'string' ? v : JSON.stringify(v));
}

function requestDetail(r) {
  const rows = [
    ['Request', h('span.mono', `${r.method} ${r.path}${r.query ? `?${r.query}` : ''}`)],
    ['Request id', h('span.mono', { testid: 'detail-request-id' }, r.requestId)],
    ['Answered', [httpPill(r.status, 'detail-status'), ` in ${num(r.durationMs)} ms · `, time(r.time)]],
    ['Token', r.tokenId ? h('span.mono', r.tokenId) : h('span.muted', '—')],
    ['User agent', r.userAgent ?? h('span.muted', '—')],
  ];
  if (r.resourceType) rows.push(['Resource', h('span.mono', `${r.resourceType} ${r.resourceId ?? ''}`)]);
  if (r.matched !== undefined) rows.push(['Lookup', r.matched ? 'found the user' : 'found nobody']);
  const error = r.status >= 400
    ? h('div.scim-error', { testid: 'detail-error' },
      h('strong', 'SCIM error'), r.scimType ? h('span.pill.pill-warn.mono', r.scimType) : null,
      h('p', r.detail ?? ''))
    : null;
  const c = r.change;
  const changes = c?.attributes?.length
    ? h('div.table-wrap', h('table.table.table-compact.change-table', { testid: 'detail-change' },
      h('thead', h('tr', h('th', { scope: 'col' }, 'Attribute'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'))),
      h('tbody', c.attributes.map((a) => h('tr',
        h('th.mono', { scope: 'row', title: a.path }, a.path.startsWith('urn:') ? a.path.split(':').pop() : a.path),
        h('td', jsonText(a.old)), h('td', jsonText(a.new)))))))
    : null;
  const members = (label, d, testid) => d ? h('p', { testid },
    h('strong', `${label}: ${num(d.total)}`), ' ', h('span.mono.small', d.ids.join(', ')),
    d.ids.length < d.total ? h('span.muted', ` and ${num(d.total - d.ids.length)} more`) : null) : null;
  return h('div.request-detail', { testid: 'request-detail' },
    h('dl.detail-dl', rows.map(([k, v]) => [h('dt', k), h('dd', v)])),
    error,
    c ? h('h3.section-title', `Change${c.attributesTotal > (c.attributes?.length ?? 0) ? ` (${c.attributesTotal} attributes, summarised)` : ''}`) : null,
    changes,
    members('Members added', c?.membersAdded, 'detail-members-added'),
    members('Members removed', c?.membersRemoved, 'detail-members-removed'),
    c && !changes && !c.membersAdded && !c.membersRemoved ? h('p.muted', 'Nothing changed.') : null);
}

function requestLogView(id, token) {
  document.title = `Request log · ${id} · SCIM console`;
  const state = { cursor: undefined, rows: [], open: null };
  const field = (label, control) => h('label.filter', h('span.filter-label', label), control);
  const status = h('select.input', { testid: 'filter-status' },
    ['', '2xx', '4xx', '5xx'].map((v) => h('option', { value: v }, v || 'Any')));
  const action = h('select.input', { testid: 'filter-action' },
    h('option', { value: '' }, 'Any'), ACTIONS.map((a) => h('option', { value: a }, a)));
  const userName = h('input.input', { type: 'search', placeholder: 'ada@example.com', testid: 'filter-username', autocomplete: 'off', spellcheck: 'false' });
  const resourceId = h('input.input.mono', { type: 'search', placeholder: 'id', testid: 'filter-resource', autocomplete: 'off', spellcheck: 'false' });
  const minDuration = h('input.input', { type: 'number', min: '0', placeholder: 'ms', testid: 'filter-duration' });
  const tbody = h('tbody', { testid: 'log-rows' });
  const empty = h('div.empty-state.small', { hidden: true, testid: 'log-empty' });
  const older = h('button.btn', { type: 'button', hidden: true, testid: 'log-older', onclick: () => load(false) }, 'Older requests');
  const refresh = h('button.btn.btn-sm', { type: 'button', testid: 'log-refresh', onclick: () => load(true) }, svgIcon('refresh'), 'Refresh');

  let debounce;
  for (const control of [status, action, userName, resourceId, minDuration]) {
    control.addEventListener(control.tagName === 'SELECT' ? 'change' : 'input', () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => load(true), 250);
    });
  }

  view().append(
    h('nav.breadcrumb', { 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/tenants' }, 'Tenants'), h('span', { 'aria-hidden': 'true' }, '/'),
      h('a.mono', { href: `#/tenants/${enc(id)}` }, id), h('span', { 'aria-hidden': 'true' }, '/'), h('span', 'Request log')),
    h('div.page-header',
      h('div', h('h1', 'Request log'),
        h('p.subtitle', 'What the identity provider sent and what it was answered, newest first. Kept 30 days by default.')),
      refresh),
    h('section.card',
      h('div.card-toolbar.filters', field('Status', status), field('Action', action), field('userName', userName),
        field('Resource id', resourceId), field('Slower than', minDuration)),
      h('div.table-wrap',
        h('table.table.log-table', { testid: 'log-table' },
          h('thead', h('tr',
            h('th', { scope: 'col' }, 'Time'),
            h('th', { scope: 'col' }, 'Action'),
            h('th', { scope: 'col' }, 'Target'),
            h('th', { scope: 'col' }, 'Status'),
            h('th.num', { scope: 'col' }, 'Duration'))),
          tbody)),
      empty,
      h('div.card-footer', older)));

  function row(r) {
    const open = state.open === r.requestId;
    const tr = h('tr.log-row', {
      testid: 'log-row', tabindex: '0', 'aria-expanded': open ? 'true' : 'false',
      class: open ? 'row-open' : undefined,
      onclick: () => { state.open = open ? null : r.requestId; render(); },
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); tr.click(); } },
    },
    h('td', time(r.time, { rel: true })),
    h('td', actionLabel(r)),
    h('td.target', { testid: 'log-target', title: targetText(r) }, targetText(r) || h('span.muted', '—')),
    h('td', httpPill(r.status, 'log-status')),
    h('td.num.tabular', `${num(r.durationMs)} ms`));
    if (!open) return [tr];
    return [tr, h('tr.detail-row', h('td', { colspan: '5' }, requestDetail(r)))];
  }

  function render() {
    tbody.replaceChildren(...state.rows.flatMap(row));
    empty.hidden = state.rows.length > 0;
    empty.replaceChildren(h('p', 'No request matches. An identity provider that never called shows nothing here.'));
    older.hidden = !state.cursor;
  }

  async function load(reset) {
    const q = new URLSearchParams({ limit: '50' });
    if (status.value) q.set('status', status.value);
    if (action.value) q.set('action', action.value);
    if (userName.value.trim()) q.set('userName', userName.value.trim());
    if (resourceId.value.trim()) q.set('resourceId', resourceId.value.trim());
    if (minDuration.value.trim()) q.set('minDurationMs', minDuration.value.trim());
    if (!reset && state.cursor) q.set('cursor', state.cursor);
    older.disabled = true;
    try {
      const page = await api('GET', `/tenants/${enc(id)}/requests?${q}`);
      if (token !== viewToken) return;
      state.rows = reset ? page.requests : state.rows.concat(page.requests);
      state.cursor = page.nextCursor;
      render();
    } catch (e) {
      reportError(e);
    } finally {
      older.disabled = false;
    }
  }

  load(true);
}

function renderHealth(hl) {
  const u = hl.users ?? {};
  const errs = hl.errors ?? {};
  const stat = (label, value, testid, sub) => h('div.stat',
    h('div.stat-label', label),
    h('div.stat-value', { testid }, value),
    sub ? h('div.stat-sub', sub) : null);
  const byStatus = (w) => {
    const entries = Object.entries(w?.byStatus ?? {});
    if (!entries.length) return null;
    return h('span.status-list', entries.sort().map(([s, n]) => h('span.status-count', httpPill(s, `status-${s}`), ` × ${num(n)}`)));
  };
  const errRow = (label, w, testid) => h('tr',
    h('th', { scope: 'row' }, label),
    h('td.num', { testid: `${testid}-requests` }, num(hl.requests?.[testid === 'hour' ? 'lastHour' : 'lastDay'])),
    h('td.num', { testid: `${testid}-errors`, class: w?.total ? 'text-bad' : undefined }, num(w?.total ?? 0)),
    h('td', { testid: `errors-${testid}` }, byStatus(w) ?? h('span.muted', '—')));

  const lr = hl.lastRequest;
  const last = lr
    ? h('div.last-request', { testid: 'last-request' },
      h('div.last-request-line',
        h('span.method.mono', { testid: 'last-method' }, lr.method),
        h('span.mono.path', { testid: 'last-path', title: lr.path }, lr.path),
        httpPill(lr.status, 'last-status')),
      h('div.muted.small.last-meta',
        time(lr.time, { rel: true }),
        lr.userAgent ? [' · ', h('span', { testid: 'last-user-agent' }, lr.userAgent)] : null))
    : h('div.last-request.empty', { testid: 'no-request' },
      h('strong', 'No SCIM request yet'),
      h('span.muted.small', ' The identity provider has not called this tenant. Once it does, its last request shows here.'));

  return [
    h('div.stats',
      stat('Users', num(u.total), 'health-users-total',
        [h('span', { testid: 'health-users-active' }, num(u.active)), ' active · ', h('span', { testid: 'health-users-inactive' }, num(u.inactive)), ' inactive']),
      stat('Groups', num(hl.groups), 'health-groups'),
      stat('Memberships', num(hl.memberships), 'health-memberships')),
    h('h3.section-title', 'Last request'),
    last,
    h('h3.section-title', 'Traffic'),
    h('div.table-wrap', h('table.table.table-compact', { testid: 'traffic' },
      h('thead', h('tr',
        h('th', { scope: 'col' }, h('span.visually-hidden', 'Window')),
        h('th.num', { scope: 'col' }, 'Requests'),
        h('th.num', { scope: 'col' }, 'Errors'),
        h('th', { scope: 'col' }, 'Errors by status'))),
      h('tbody', errRow('Last hour', errs.lastHour, 'hour'), errRow('Last 24 hours', errs.lastDay, 'day')))),
  ];
}

function issueTokenForm(tenantId, token, onIssued) {
  const nameInput = h('input.input', {
    id: 'new-token-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off',
    placeholder: 'entra-production', testid: 'token-name-input',
  });
  const today = new Date();
  const tomorrow = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1));
  const expiry = h('input.input', {
    id: 'new-token-expiry', name: 'expiresAt', type: 'date', testid: 'token-expiry-input',
    min: tomorrow.toISOString().slice(0, 10), 'aria-describedby': 'new-token-expiry-hint',
  });
  const nameHint = h('p.hint', { id: 'new-token-name-hint' }, 'Which connection uses it, 1–64 characters.');
  const expiryHint = h('p.hint', { id: 'new-token-expiry-hint' }, 'Optional. Valid until the start of that day (UTC).');
  const formError = h('p.form-error', { hidden: true, role: 'alert', testid: 'issue-token-error' });
  const submit = h('button.btn.btn-primary', { type: 'submit', testid: 'issue-token-submit' }, 'Issue token');

  const validate = () => {
    const name = nameInput.value.trim();
    let ok = true;
    if (!name || name.length > 64) {
      ok = false;
    }
    let expMsg = '';
    if (expiry.value) {
      const at = Date.parse(`${expiry.value}T00:00:00Z`);
      if (Number.isNaN(at)) expMsg = 'Not a date.';
      else if (at <= Date.now()) expMsg = 'Must be in the future.';
    }
    expiryHint.textContent = expMsg || 'Optional. Valid until the start of that day (UTC).';
    expiryHint.classList.toggle('hint-error', !!expMsg);
    expiry.setAttribute('aria-invalid', expMsg ? 'true' : 'false');
    submit.disabled = !ok || !!expMsg;
    return ok && !expMsg;
  };
  nameInput.addEventListener('input', () => { formError.hidden = true; validate(); });
  expiry.addEventListener('input', () => { formError.hidden = true; validate(); });

  const form = h('form.issue-form', { hidden: true, testid: 'issue-token-form', novalidate: true },
    h('div.form-grid',
      h('div.field', h('label', { for: 'new-token-name' }, 'Name'), nameInput, nameHint),
      h('div.field', h('label', { for: 'new-token-expiry' }, 'Expires on ', h('span.muted', '(optional)')), expiry, expiryHint)),
    formError,
    h('div.form-actions',
      h('button.btn', { type: 'button', onclick: () => { form.hidden = true; } }, 'Cancel'),
      submit));
  validate();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!validate()) return;
    submit.disabled = true;
    const body = { name: nameInput.value.trim() };
    if (expiry.value) body.expiresAt = `${expiry.value}T00:00:00Z`;
    try {
      const issued = await api('POST', `/tenants/${enc(tenantId)}/tokens`, body);
      if (token !== viewToken) return;
      form.reset();
      form.hidden = true;
      onIssued(issued);
    } catch (err) {
      reportError(err, formError);
    } finally {
      validate();
    }
  });
  return form;
}

// ------------------------------------------------------------------ start

window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  reportError(e.reason);
});
if (!location.hash) history.replaceState(null, '', '#/tenants');
route();
