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
const dateSecFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
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
function time(iso, { rel = false, dateOnly = false, seconds = false } = {}) {
  if (!iso) return h('span.muted', '—');
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return h('span', iso);
  const shown = dateOnly ? dateOnlyFmt.format(t) : seconds ? dateSecFmt.format(t) : dateFmt.format(t);
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

/** One management call; JSON in and out. Throws ApiError (status 0: network).
 *  `opts.headers` adds request headers (If-Match); `opts.onHeaders` is given
 *  the headers of a successful answer (ETag). */
async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers ?? {}) };
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
  opts.onHeaders?.(res.headers);
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

/** Resolves true when the operator confirms; `typed` must be typed exactly.
 *  With `reason` ({label, required, placeholder}) it asks for a reason too
 *  and resolves to {reason} (the text, trimmed) or null. `tone` 'primary'
 *  gives the confirm button the primary colour (else danger). */
function confirmDialog({ title, text, confirmLabel, typed, reason, tone = 'danger' }) {
  const dlg = document.getElementById('confirm');
  const input = document.getElementById('confirm-input');
  const ok = document.getElementById('confirm-ok');
  const typedBox = document.getElementById('confirm-typed');
  const reasonBox = document.getElementById('confirm-reason-box');
  const reasonInput = document.getElementById('confirm-reason');
  const reasonHint = document.getElementById('confirm-reason-hint');
  document.getElementById('confirm-title').textContent = title;
  const textBox = document.getElementById('confirm-text');
  textBox.replaceChildren(...[text].flat().map((t) => (t instanceof Node ? t : h('p', t))));
  ok.textContent = confirmLabel;
  ok.className = `btn ${tone === 'primary' ? 'btn-primary' : 'btn-danger'}`;
  input.value = '';
  typedBox.hidden = !typed;
  if (typed) {
    const label = document.getElementById('confirm-label');
    label.replaceChildren('Type ', h('code', typed), ' to confirm');
  }
  reasonBox.hidden = !reason;
  reasonInput.value = '';
  if (reason) {
    const reasonLabel = document.getElementById('confirm-reason-label');
    reasonLabel.replaceChildren(reason.label ?? 'Reason');
    if (!reason.required) reasonLabel.append(h('span.muted', ' (optional)'));
    reasonInput.placeholder = reason.placeholder ?? '';
    reasonHint.textContent = reason.hint ?? '';
    reasonHint.hidden = !reason.hint;
  }
  const sync = () => {
    ok.disabled = (typed ? input.value !== typed : false)
      || (reason?.required ? !reasonInput.value.trim() : false);
  };
  sync();
  return new Promise((resolve) => {
    const onInput = () => sync();
    const cancel = document.getElementById('confirm-cancel');
    const onCancel = () => dlg.close('cancel');
    const onClose = () => {
      input.removeEventListener('input', onInput);
      reasonInput.removeEventListener('input', onInput);
      cancel.removeEventListener('click', onCancel);
      dlg.removeEventListener('close', onClose);
      const yes = dlg.returnValue === 'ok' && (!typed || input.value === typed)
        && (!reason?.required || !!reasonInput.value.trim());
      dlg.returnValue = '';
      const given = reasonInput.value.trim();
      reasonInput.value = '';
      if (reason) resolve(yes ? { reason: given } : null);
      else resolve(yes);
    };
    input.addEventListener('input', onInput);
    reasonInput.addEventListener('input', onInput);
    cancel.addEventListener('click', onCancel);
    dlg.addEventListener('close', onClose);
    dlg.returnValue = '';
    dlg.showModal();
    (typed ? input : reason ? reasonInput : cancel).focus();
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

  const breaker = breakerCard(id, token);
  const settings = settingsCard(id, token, { onSaved: () => breaker.load(false) });

  const layout = h('div.tenant-layout',
    h('section.card.health-card',
      h('div.card-head', h('h2.card-title', 'Health'), h('div.card-head-actions', healthUpdated,
        h('a.btn.btn-sm', { href: `#/tenants/${enc(id)}/requests`, testid: 'open-request-log' }, 'Request log'),
        healthRefresh)),
      healthBody),
    howTo,
    breaker.el,
    h('section.card.tokens-card',
      h('div.card-head', h('h2.card-title', 'Tokens'), issueBtn),
      issueForm,
      tokensBody),
    settings.el);

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
      breaker.setActiveUsers(health.users?.active);
      if (manual) {
        loadTokens();
        breaker.load(false);
      }
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
    breaker.load(false);
    settings.load();
  })();
}

// ------------------------------------------------------------------ tenant settings

/** What each identity provider profile makes of the switches (as the server
 *  reads them: src/tenant/settings.rs). */
const PROFILES = {
  rfc: { label: 'RFC 7644', membersReplace: 'rfc', groupPutWithoutMembers: 'clear' },
  entra: { label: 'Microsoft Entra ID', membersReplace: 'additive', groupPutWithoutMembers: 'keep' },
  okta: { label: 'Okta', membersReplace: 'rfc', groupPutWithoutMembers: 'keep' },
};

const SWITCHES = {
  membersReplace: {
    label: 'PATCH replace of members',
    values: { rfc: 'Replace the list', additive: 'Add to the list' },
    help: {
      rfc: 'a PATCH replace of members makes the list exactly the members sent (RFC 7644).',
      additive: 'a PATCH replace of members adds them instead of replacing the list — some Entra ID apps mean that.',
    },
  },
  groupPutWithoutMembers: {
    label: 'Group PUT without members',
    values: { clear: 'Clear the members', keep: 'Keep the members' },
    help: {
      clear: 'a group PUT without members leaves the group without members, as RFC 7644 reads it.',
      keep: 'a group PUT without members keeps the members — Okta apps that PUT groups omit them.',
    },
  },
};

const LOG_VALUES = { masked: 'Masked (ad***)', full: 'Full values' };

/** The setting a 400's message names, longest name first ("breaker.percent"
 *  before "breaker"). */
const SETTING_FIELDS = ['breaker.windowMinutes', 'breaker.threshold', 'breaker.percent', 'breaker.enabled',
  'groupPutWithoutMembers', 'membersReplace', 'requestLogValues', 'windowMinutes', 'threshold', 'percent', 'idp'];

function fieldNamed(message) {
  const found = SETTING_FIELDS.find((f) => message.includes(f));
  if (!found) return null;
  return found.includes('.') || !['windowMinutes', 'threshold', 'percent'].includes(found) ? found : `breaker.${found}`;
}

/** The Settings card of a tenant: profile, switches, request log values,
 *  breaker; saved as a merge patch of what changed, with If-Match. */
function settingsCard(id, token, { onSaved }) {
  let saved = null; // the last GET/PATCH answer
  let etag = null;
  const fields = {}; // name -> {box, control, error}

  const select = (name, testid, options) => h('select.input', { id: `setting-${name}`, testid, name },
    options.map(([value, label]) => h('option', { value }, label)));
  const numberInput = (name, testid, min, max) => h('input.input.tabular', {
    id: `setting-${name}`, testid, name, type: 'number', inputmode: 'numeric', min, max, step: '1',
  });

  const idp = select('idp', 'settings-idp', Object.entries(PROFILES).map(([k, p]) => [k, `${p.label} (${k})`]));
  const membersReplace = select('membersReplace', 'settings-members-replace', [['', 'Follow the profile'],
    ...Object.entries(SWITCHES.membersReplace.values).map(([k, v]) => [k, `${v} (${k})`])]);
  const groupPut = select('groupPutWithoutMembers', 'settings-group-put', [['', 'Follow the profile'],
    ...Object.entries(SWITCHES.groupPutWithoutMembers.values).map(([k, v]) => [k, `${v} (${k})`])]);
  const logValues = select('requestLogValues', 'settings-log-values', [['', 'Deployment default'],
    ...Object.entries(LOG_VALUES)]);
  const enabled = h('input', { type: 'checkbox', id: 'setting-breaker-enabled', testid: 'settings-breaker-enabled' });
  const threshold = numberInput('breaker-threshold', 'settings-breaker-threshold', 1, 1000000);
  const percent = numberInput('breaker-percent', 'settings-breaker-percent', 0, 100);
  const windowMinutes = numberInput('breaker-window', 'settings-breaker-window', 1, 1440);

  const idpHint = h('p.hint');
  const mrHint = h('ul.switch-help', { testid: 'help-members-replace' });
  const gpHint = h('ul.switch-help', { testid: 'help-group-put' });
  /** Both values of a switch in plain words, the one in effect marked. */
  const switchHelp = (list, name, now) => list.replaceChildren(...Object.entries(SWITCHES[name].help).map(([value, text]) =>
    h('li', { class: value === now ? 'is-current' : undefined },
      h('code', value), ' ', text, value === now ? h('span.current-mark', ' ← in effect') : null)));

  function field(name, label, control, hints, cls) {
    const error = h('p.field-error', { hidden: true, role: 'alert', testid: `settings-error-${name.replace('breaker.', '')}` });
    const box = h(`div.field${cls ? `.${cls}` : ''}`, { 'data-field': name },
      h('label', { for: control.id }, label, h('span.dirty-mark', { 'aria-hidden': 'true', title: 'Not saved yet' }, 'changed')),
      control, error, hints);
    fields[name] = { box, control, error };
    return box;
  }

  const enabledError = h('p.field-error', { hidden: true, role: 'alert', testid: 'settings-error-enabled' });
  const enabledBox = h('div.field.checkbox-field', { 'data-field': 'breaker.enabled' },
    h('label.checkbox', enabled, h('span', 'Hold events when many users are deprovisioned at once'),
      h('span.dirty-mark', { 'aria-hidden': 'true' }, 'changed')),
    enabledError);
  fields['breaker.enabled'] = { box: enabledBox, control: enabled, error: enabledError };

  const formError = h('p.form-error', { hidden: true, role: 'alert', testid: 'settings-error' });
  const notice = h('p.form-notice', { hidden: true, role: 'status', testid: 'settings-notice' });
  const status = h('span.muted.small', { testid: 'settings-status' });
  const undo = h('button.btn', { type: 'button', testid: 'settings-undo', onclick: () => { fill(); sync(); } }, 'Undo changes');
  const save = h('button.btn.btn-primary', { type: 'submit', testid: 'settings-save' }, 'Save settings');
  const version = h('span.muted.small.tabular', { testid: 'settings-version' });
  const history = h('div.settings-history', { testid: 'settings-history' });

  const form = h('form.settings-form', { novalidate: true, testid: 'settings-form' },
    h('div.settings-grid',
      h('fieldset.settings-group.settings-idp',
        h('legend', 'Identity provider'),
        field('idp', 'Profile', idp, idpHint),
        field('membersReplace', SWITCHES.membersReplace.label, membersReplace, mrHint),
        field('groupPutWithoutMembers', SWITCHES.groupPutWithoutMembers.label, groupPut, gpHint),
        field('requestLogValues', 'Request log values', logValues,
          h('p.hint', 'How the request log shows personal values (userName, names, emails). Masked keeps the first two characters; ',
            'the deployment default is masked unless ', h('code', 'SCIM_REQUEST_LOG_VALUES=full'), '.'))),
      h('fieldset.settings-group.settings-breaker',
        h('legend', 'Deprovisioning breaker'),
        enabledBox,
        h('div.breaker-numbers',
          field('breaker.threshold', 'Threshold', threshold, h('p.hint', 'users, 1 to 1,000,000')),
          field('breaker.percent', 'Percent', percent, h('p.hint', '% of active users, 0 to 100')),
          field('breaker.windowMinutes', 'Window', windowMinutes, h('p.hint', 'minutes, 1 to 1,440'))),
        h('p.hint.breaker-explain', { testid: 'breaker-explain' }))),
    formError,
    notice,
    h('div.settings-actions', status, h('div.settings-buttons', undo, save)));

  const el = h('section.card.settings-card', { testid: 'settings' },
    h('div.card-head', h('h2.card-title', 'Settings'), version),
    h('div.settings-body', h('p.muted', 'Loading…')));
  const body = el.querySelector('.settings-body');

  /** The values the form shows, in the API's shape (absent: no override). */
  function formValues() {
    const v = { idp: idp.value, breaker: { enabled: enabled.checked } };
    if (membersReplace.value) v.membersReplace = membersReplace.value;
    if (groupPut.value) v.groupPutWithoutMembers = groupPut.value;
    if (logValues.value) v.requestLogValues = logValues.value;
    for (const [k, input] of [['threshold', threshold], ['percent', percent], ['windowMinutes', windowMinutes]]) {
      const text = input.value.trim();
      v.breaker[k] = /^\d+$/.test(text) ? Number(text) : text;
    }
    return v;
  }

  /** The merge patch from the saved settings to the form (only what changed). */
  function patch() {
    const s = saved.settings;
    const v = formValues();
    const p = {};
    if (v.idp !== s.idp) p.idp = v.idp;
    for (const k of ['membersReplace', 'groupPutWithoutMembers', 'requestLogValues']) {
      if (v[k] !== s[k]) p[k] = v[k] ?? null;
    }
    const b = {};
    for (const k of ['enabled', 'threshold', 'percent', 'windowMinutes']) {
      if (v.breaker[k] !== s.breaker?.[k]) b[k] = v.breaker[k];
    }
    if (Object.keys(b).length) p.breaker = b;
    return p;
  }

  /** What a switch comes to when it follows the profile chosen in the form. */
  function profileDefault(name) {
    const s = saved.settings;
    if (idp.value === s.idp && s[name] === undefined && saved.effective?.[name]) return saved.effective[name];
    return PROFILES[idp.value]?.[name];
  }

  function clearErrors() {
    formError.hidden = true;
    for (const f of Object.values(fields)) {
      f.error.hidden = true;
      f.control.removeAttribute('aria-invalid');
    }
  }

  function showFieldError(name, message) {
    const f = fields[name];
    if (!f) return false;
    f.error.textContent = message;
    f.error.hidden = false;
    f.control.setAttribute('aria-invalid', 'true');
    return true;
  }

  /** Labels, help and dirty marks follow the form; Save only with a change. */
  function sync() {
    if (!saved) return;
    const p = patch();
    const mr = profileDefault('membersReplace');
    const gp = profileDefault('groupPutWithoutMembers');
    membersReplace.options[0].textContent = `Follow the profile (currently: ${mr})`;
    groupPut.options[0].textContent = `Follow the profile (currently: ${gp})`;
    const prof = PROFILES[idp.value];
    idpHint.replaceChildren(`${prof.label}: members replace is `, h('strong', prof.membersReplace),
      ', group PUT without members is ', h('strong', prof.groupPutWithoutMembers),
      ', unless overridden below.');
    const mrNow = membersReplace.value || mr;
    const gpNow = groupPut.value || gp;
    switchHelp(mrHint, 'membersReplace', mrNow);
    switchHelp(gpHint, 'groupPutWithoutMembers', gpNow);
    const v = formValues();
    const explain = form.querySelector('[data-testid="breaker-explain"]');
    explain.textContent = v.breaker.enabled
      ? `Trips when, within ${v.breaker.windowMinutes} minutes, more than ${v.breaker.threshold} users are deactivated or deleted (or groups deleted) and they are more than ${v.breaker.percent} % of the active users. Then every event of the tenant is held until someone releases or discards them; the SCIM directory keeps following the identity provider.`
      : 'Off: every event is published at once, however many users are deprovisioned.';
    for (const n of [threshold, percent, windowMinutes]) n.disabled = !v.breaker.enabled;

    const dirty = new Set(Object.keys(p).flatMap((k) => (k === 'breaker' ? Object.keys(p.breaker).map((b) => `breaker.${b}`) : [k])));
    for (const [name, f] of Object.entries(fields)) f.box?.classList.toggle('is-dirty', dirty.has(name));

    // A number field must hold a whole number before anything is sent; its
    // range is the server's to check (its 400 names the field).
    let bad = false;
    for (const [name, input] of [['breaker.threshold', threshold], ['breaker.percent', percent], ['breaker.windowMinutes', windowMinutes]]) {
      const ok = /^\d+$/.test(input.value.trim());
      if (!ok) {
        bad = true;
        showFieldError(name, 'A whole number.');
      } else if (fields[name].error.textContent === 'A whole number.') {
        fields[name].error.hidden = true;
        input.removeAttribute('aria-invalid');
      }
    }
    save.disabled = bad || dirty.size === 0;
    undo.disabled = dirty.size === 0;
    status.textContent = dirty.size
      ? `${dirty.size} unsaved change${dirty.size === 1 ? '' : 's'}: ${[...dirty].join(', ')}`
      : saved.history?.length ? '' : 'Defaults: nothing changed yet.';
  }

  /** The form shows the saved settings. */
  function fill() {
    const s = saved.settings;
    idp.value = s.idp ?? 'rfc';
    membersReplace.value = s.membersReplace ?? '';
    groupPut.value = s.groupPutWithoutMembers ?? '';
    logValues.value = s.requestLogValues ?? '';
    enabled.checked = s.breaker?.enabled !== false;
    threshold.value = String(s.breaker?.threshold ?? '');
    percent.value = String(s.breaker?.percent ?? '');
    windowMinutes.value = String(s.breaker?.windowMinutes ?? '');
    clearErrors();
  }

  function renderHistory() {
    const entries = (saved.history ?? []).slice(0, 5);
    if (!entries.length) {
      history.replaceChildren(h('h3.section-title', 'Recent changes'),
        h('p.muted.small', { testid: 'settings-history-empty' }, 'No change yet: the tenant uses the defaults.'));
      return;
    }
    history.replaceChildren(h('h3.section-title', 'Recent changes'),
      h('ol.history-list', entries.map((c) => h('li.history-entry', { testid: 'settings-history-row' },
        h('div.history-meta',
          h('span.history-version.tabular', `v${c.version}`),
          time(c.at, { rel: true }),
          h('span.muted', 'by'),
          h('span.history-by.mono', { title: c.by, testid: 'history-by' }, c.by)),
        h('div.chips', { testid: 'history-changed' }, (c.changed ?? []).map((f) => h('code.chip', f)))))));
  }

  function render() {
    version.textContent = `Version ${saved.version}`;
    fill();
    renderHistory();
    if (!form.isConnected) body.replaceChildren(form, history);
    sync();
  }

  for (const c of [idp, membersReplace, groupPut, logValues, enabled]) {
    c.addEventListener('change', () => { notice.hidden = true; formError.hidden = true; sync(); });
  }
  for (const [name, c] of [['breaker.threshold', threshold], ['breaker.percent', percent], ['breaker.windowMinutes', windowMinutes]]) {
    c.addEventListener('input', () => {
      notice.hidden = true;
      formError.hidden = true;
      fields[name].error.hidden = true;
      c.removeAttribute('aria-invalid');
      sync();
    });
  }

  async function load() {
    try {
      const view = await api('GET', `/tenants/${enc(id)}/settings`, undefined, { onHeaders: (hd) => { etag = hd.get('etag'); } });
      if (token !== viewToken) return;
      saved = view;
      render();
    } catch (e) {
      if (token !== viewToken) return;
      if (e instanceof ApiError && e.status === 404) {
        body.replaceChildren(h('p.muted', { testid: 'settings-unavailable' }, `Settings are not available: ${e.message}`));
        return;
      }
      reportError(e);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!saved) return;
    const p = patch();
    if (!Object.keys(p).length) return;
    clearErrors();
    notice.hidden = true;
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const view = await api('PATCH', `/tenants/${enc(id)}/settings`, p, {
        headers: { 'If-Match': etag ?? `W/"${saved.version}"` },
        onHeaders: (hd) => { etag = hd.get('etag'); },
      });
      if (token !== viewToken) return;
      saved = view;
      render();
      toast('Settings saved');
      onSaved?.(view);
    } catch (err) {
      if (token !== viewToken) return;
      if (err instanceof ApiError && err.status === 412) {
        await load();
        notice.textContent = 'Changed by someone else, reloaded: these are the current settings. Make your change again and save.';
        notice.hidden = false;
        return;
      }
      if (err instanceof ApiError && err.status === 400) {
        const name = fieldNamed(err.message);
        if (name && showFieldError(name, err.message)) {
          fields[name].control.focus();
          return;
        }
      }
      reportError(err, formError);
    } finally {
      save.textContent = 'Save settings';
      sync();
    }
  });

  return { el, load, settings: () => saved?.settings };
}

// ------------------------------------------------------------------ deprovisioning breaker

const BREAKER_STATES = {
  armed: { pill: 'ok', label: 'Armed' },
  tripped: { pill: 'bad', label: 'Tripped' },
  releasing: { pill: 'info', label: 'Releasing' },
  discarding: { pill: 'warn', label: 'Discarding' },
  off: { pill: 'neutral', label: 'Off' },
};
const HELD_PAGE = 50;
/** The event types the breaker counts. */
const DEPROVISIONING = ['user.deactivated', 'user.deleted', 'group.deleted'];

/** A meter's bar, `ratio` (0–1) of its width; set through the CSSOM, which
 *  the Content-Security-Policy allows (a style attribute it does not). */
function meterFill(level, ratio) {
  const fill = h(`div.meter-fill.meter-${level}`);
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, ratio)) * 100)}%`;
  return fill;
}

/** The breaker card of a tenant: its state, held events, release, discard. */
function breakerCard(id, token, { onChange } = {}) {
  let b = null; // the last GET breaker answer
  let activeUsers = null; // from the health card, for the share
  let timer = null;
  let startHeld = null; // held when a release or discard was first seen
  const held = { type: '', pages: [undefined], index: 0, next: undefined, events: [], loadedFor: null };

  const pill = h('span.pill.pill-neutral', { testid: 'breaker-state' }, '…');
  const refresh = h('button.btn.btn-sm', {
    type: 'button', testid: 'breaker-refresh', 'aria-label': 'Refresh the breaker',
    onclick: () => load(true),
  }, svgIcon('refresh'), 'Refresh');
  const body = h('div.breaker-body', { testid: 'breaker-body' }, h('p.muted', 'Loading…'));
  const actionError = h('p.form-error.breaker-error', { hidden: true, role: 'alert', testid: 'breaker-error' });
  const heldBox = h('div.held', { testid: 'held', hidden: true });
  const el = h('section.card.breaker-card', { testid: 'breaker' },
    h('div.card-head', h('h2.card-title', 'Deprovisioning breaker', pill), h('div.card-head-actions', refresh)),
    body, actionError, heldBox);

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (b && (b.state === 'releasing' || b.state === 'discarding')) {
      timer = setTimeout(() => {
        timer = null;
        if (token !== viewToken || sessionExpired) return;
        load(false);
      }, POLL_MS);
    }
  }

  function stat(label, value, testid, sub) {
    return h('div.breaker-stat', h('div.stat-label', label), h('div.breaker-stat-value', { testid }, value),
      sub ? h('div.stat-sub', sub) : null);
  }

  function byType(map) {
    const entries = Object.entries(map ?? {}).filter(([, n]) => n > 0).sort((x, y) => y[1] - x[1]);
    if (!entries.length) return h('span.muted', '—');
    return h('span.chips', { testid: 'breaker-held-by-type' },
      entries.map(([t, n]) => h('span.chip.chip-count', h('span.mono', t), h('strong.tabular', num(n)))));
  }

  function armedBody() {
    const s = b.settings ?? {};
    const count = b.windowCount ?? 0;
    const limit = s.threshold ?? 0;
    let tripAt = limit + 1;
    let share = null;
    if (typeof activeUsers === 'number' && activeUsers > 0) {
      // It trips when count > threshold and count > percent % of the users
      // active before the wave (the active ones plus those it took).
      const byShare = Math.floor((activeUsers * (s.percent ?? 0)) / 100) + 1;
      share = Math.ceil((activeUsers * (s.percent ?? 0)) / 100);
      tripAt = Math.max(tripAt, byShare);
    }
    const ratio = Math.min(1, count / Math.max(1, tripAt));
    const level = ratio >= 0.8 ? 'bad' : ratio >= 0.5 ? 'warn' : 'ok';
    const lastTrip = b.trip?.resolution
      ? h('p.muted.small', { testid: 'breaker-last-trip' }, 'Last trip ', time(b.trip.at, { rel: true }), ': ',
        b.trip.resolution.action === 'release' ? 'released' : 'discarded', ' by ', h('span.mono', b.trip.resolution.by),
        b.trip.resolution.reason ? ` (“${b.trip.resolution.reason}”)` : '', '.')
      : null;
    return [
      h('div.breaker-armed',
        h('div.window-count',
          h('span.window-value.tabular', { testid: 'breaker-window' }, num(count), h('span.window-of', ` / ${num(limit)}`)),
          h('span.window-label', `deprovisionings in the last ${num(s.windowMinutes)} minutes · threshold: more than ${num(limit)}`)),
        h('div.meter', { role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': String(tripAt), 'aria-valuenow': String(count), 'aria-label': 'Deprovisionings towards a trip' },
          meterFill(level, ratio))),
      h('p.small.breaker-rule',
        `It trips when, within ${num(s.windowMinutes)} minutes, more than ${num(limit)} users are deactivated or deleted (or groups deleted) `,
        `and they are more than ${num(s.percent)} % of the active users`,
        share !== null ? ` (${num(share)} of ${num(activeUsers)} now), so at ${num(tripAt)}` : '',
        '. Until then every event is published at once.'),
      lastTrip,
    ];
  }

  function trippedBody() {
    const t = b.trip ?? {};
    const s = t.settings ?? b.settings ?? {};
    const resolving = b.state === 'releasing' || b.state === 'discarding';
    const heldNow = t.held ?? 0;
    if (resolving && startHeld === null) startHeld = heldNow;
    if (!resolving) startHeld = null;
    const alert = h(`div.breaker-alert${resolving ? '.breaker-alert-busy' : ''}`, { testid: 'breaker-alert' },
      h('div.breaker-alert-head',
        resolving ? h('div.spinner.spinner-info', { 'aria-hidden': 'true' }) : svgIcon('alert'),
        h('div',
          h('h3.breaker-alert-title', resolving
            ? (b.state === 'releasing' ? 'Releasing the held events, in order…' : 'Discarding the held events…')
            : 'Tripped: events to the application are held'),
          h('p', { testid: 'breaker-summary' }, resolving
            ? [`${num(heldNow)} left`, startHeld ? ` of ${num(startHeld)}` : '', '. ',
              t.resolution ? ['Started by ', h('span.mono', t.resolution.by), ' ', time(t.resolution.at, { rel: true }),
                t.resolution.reason ? ` · “${t.resolution.reason}”` : ''] : null]
            : `${num(t.count)} deprovisionings within ${num(s.windowMinutes)} minutes passed the limits (more than ${num(s.threshold)} and more than ${num(s.percent)} % of the active users). `
              + 'The SCIM directory keeps following the identity provider; every event it produces for the application waits here.'))),
      resolving && startHeld
        ? h('div.meter.meter-thin', meterFill('info', 1 - heldNow / Math.max(1, startHeld)))
        : null,
      h(`div.breaker-stats${resolving ? '.is-resolving' : ''}`,
        stat('Tripped', time(t.at, { seconds: true }), 'breaker-tripped-at', relative(t.at)),
        stat('Deprovisionings', num(t.count), 'breaker-count'),
        stat('Active users then', num(t.activeUsers), 'breaker-active'),
        stat('Held events', num(heldNow), 'breaker-held')),
      h('div.breaker-bytype', h('span.stat-label', 'Held by type'), byType(t.heldByType)),
      resolving ? null : h('div.breaker-actions',
        h('p.hint', h('strong', 'Release'), ' if the deprovisionings are intended (a planned offboarding): the held events are published in their order. ',
          h('strong', 'Discard'), ' if they are a mistake (a wrong assignment or scoping rule): undo it in the identity provider; the application never sees them.'),
        h('div.breaker-buttons',
          h('button.btn.btn-danger-ghost', { type: 'button', testid: 'breaker-discard', onclick: discard }, 'Discard…'),
          h('button.btn.btn-primary', { type: 'button', testid: 'breaker-release', onclick: release }, `Release ${num(heldNow)} events`))));
    return [alert];
  }

  function render() {
    const st = BREAKER_STATES[b.state] ?? { pill: 'neutral', label: b.state };
    pill.className = `pill pill-${st.pill}`;
    pill.hidden = false;
    pill.replaceChildren(h('span.dot', { 'aria-hidden': 'true' }), st.label);
    pill.dataset.state = b.state;
    const alerting = ['tripped', 'releasing', 'discarding'].includes(b.state);
    el.classList.toggle('is-alert', alerting);
    el.dataset.state = b.state;
    if (b.state === 'off') {
      body.replaceChildren(h('p', { testid: 'breaker-off' }, 'The breaker is off: every event is published at once, however many users are deprovisioned. ',
        'Turn it on under ', h('em', 'Settings › Deprovisioning breaker'), '.'),
      h('p.muted.small', `${num(b.windowCount ?? 0)} deprovisionings in the last ${num(b.settings?.windowMinutes)} minutes.`));
    } else if (alerting && b.trip) {
      body.replaceChildren();
      append(body, trippedBody());
    } else {
      body.replaceChildren();
      append(body, armedBody());
    }
    heldBox.hidden = !(alerting && b.trip);
  }

  async function load(manual) {
    if (manual) {
      refresh.disabled = true;
      refresh.classList.add('spinning');
    }
    try {
      const before = b?.state;
      const fresh = await api('GET', `/tenants/${enc(id)}/breaker`);
      if (token !== viewToken) return;
      b = fresh;
      if (manual) actionError.hidden = true;
      render();
      if ((before === 'releasing' || before === 'discarding') && b.state !== before) {
        toast(before === 'releasing' ? 'Held events released' : 'Held events discarded');
      }
      if (!heldBox.hidden) {
        // A new trip, a manual refresh or a release in progress: the page again.
        const key = b.trip?.at;
        if (manual || held.loadedFor !== key || b.state !== 'tripped') loadHeld(held.loadedFor !== key);
      }
      if (before !== b.state) onChange?.(b);
      schedule();
    } catch (e) {
      if (token !== viewToken) return;
      if (e instanceof ApiError && e.status === 404) {
        pill.hidden = true;
        body.replaceChildren(h('p.muted', { testid: 'breaker-unavailable' }, `The breaker is not available: ${e.message}`));
        return;
      }
      reportError(e);
      schedule();
    } finally {
      refresh.disabled = false;
      refresh.classList.remove('spinning');
    }
  }

  // ---- held events, oldest first, a page of 50 at a time
  const typeSelect = h('select.input', { testid: 'held-type', 'aria-label': 'Filter held events by type' });
  typeSelect.addEventListener('change', () => {
    held.type = typeSelect.value;
    loadHeld(true);
  });
  const range = h('span.muted.small.tabular', { testid: 'held-range' });
  const older = h('button.btn.btn-sm', { type: 'button', testid: 'held-older', onclick: () => page(-1) }, '← Older');
  const newer = h('button.btn.btn-sm', { type: 'button', testid: 'held-newer', onclick: () => page(1) }, 'Newer →');
  const heldRows = h('tbody', { testid: 'held-rows' });
  const heldEmpty = h('div.empty-state.small', { hidden: true, testid: 'held-empty' });
  heldBox.append(
    h('div.card-toolbar.held-toolbar',
      h('div.held-title', h('h3.section-title', 'Held events'), h('span.muted.small', 'oldest first, in the order they will be published')),
      h('label.filter.filter-inline', h('span.filter-label', 'Type'), typeSelect)),
    h('div.table-wrap', h('table.table.table-compact.held-table', { testid: 'held-table' },
      h('thead', h('tr',
        h('th.num', { scope: 'col' }, '#'),
        h('th', { scope: 'col' }, 'Time'),
        h('th', { scope: 'col' }, 'Event'),
        h('th', { scope: 'col' }, 'Resource'),
        h('th', { scope: 'col' }, 'Id'))),
      heldRows)),
    heldEmpty,
    h('div.held-pager', range, h('div.held-pager-buttons', older, newer)));

  function renderTypes() {
    const types = Object.keys(b?.trip?.heldByType ?? {}).sort();
    if (held.type && !types.includes(held.type)) types.push(held.type);
    typeSelect.replaceChildren(h('option', { value: '' }, 'All types'),
      ...types.map((t) => h('option', { value: t }, `${t} (${num(b.trip.heldByType[t] ?? 0)})`)));
    typeSelect.value = held.type;
  }

  function renderHeld() {
    heldRows.replaceChildren(...held.events.map((ev) => h('tr', { testid: 'held-row' },
      h('td.num.tabular.muted', String(ev.seq)),
      h('td', time(ev.time, { seconds: true })),
      h('td', h(`span.action${DEPROVISIONING.includes(ev.detailType) ? '.action-bad' : ''}`, { testid: 'held-type-cell' }, ev.detailType)),
      h('td.target', { testid: 'held-target', title: ev.userName ?? ev.displayName ?? '' },
        ev.userName ?? ev.displayName ?? h('span.muted', '—'),
        ev.resourceType ? h('span.muted.small', ` · ${ev.resourceType}`) : null),
      h('td.mono.small.held-id', { title: ev.id ?? '', testid: 'held-id' }, ev.id ?? '—'))));
    heldEmpty.hidden = held.events.length > 0;
    heldEmpty.replaceChildren(h('p', held.type ? `No held ${held.type} event.` : 'No event is held.'));
    const total = held.type ? b?.trip?.heldByType?.[held.type] : b?.trip?.held;
    const first = held.index * HELD_PAGE + 1;
    const last = held.index * HELD_PAGE + held.events.length;
    range.textContent = held.events.length
      ? `Events ${num(first)}–${num(last)}${typeof total === 'number' ? ` of ${num(total)}` : ''}`
      : '';
    older.disabled = held.index === 0;
    newer.disabled = !held.next;
  }

  async function loadHeld(reset) {
    if (reset) {
      held.pages = [undefined];
      held.index = 0;
    }
    renderTypes();
    const q = new URLSearchParams({ limit: String(HELD_PAGE) });
    const cursor = held.pages[held.index];
    if (cursor) q.set('cursor', cursor);
    if (held.type) q.set('type', held.type);
    older.disabled = true;
    newer.disabled = true;
    try {
      const pageBody = await api('GET', `/tenants/${enc(id)}/breaker/held?${q}`);
      if (token !== viewToken) return;
      held.events = pageBody.events ?? [];
      held.next = pageBody.nextCursor;
      held.loadedFor = b?.trip?.at ?? null;
      if (!held.events.length && held.index > 0) {
        // The page emptied (events were released meanwhile): back to the first.
        held.pages = [undefined];
        held.index = 0;
        return loadHeld(false);
      }
      renderHeld();
    } catch (e) {
      if (token !== viewToken) return;
      reportError(e, actionError);
      renderHeld();
    }
  }

  function page(step) {
    if (step > 0 && held.next) {
      held.pages[held.index + 1] = held.next;
      held.index += 1;
    } else if (step < 0 && held.index > 0) {
      held.index -= 1;
    } else {
      return;
    }
    loadHeld(false);
  }

  async function resolve(action, reason) {
    actionError.hidden = true;
    try {
      const fresh = await api('POST', `/tenants/${enc(id)}/breaker/${action}`, reason ? { reason } : {});
      if (token !== viewToken) return;
      toast(action === 'release' ? 'Releasing the held events' : 'Discarding the held events');
      if (fresh && fresh.state) {
        const before = b.state;
        b = fresh;
        render();
        if (!heldBox.hidden) loadHeld(false);
        if (before !== b.state) onChange?.(b);
        if (b.state === 'armed') toast(action === 'release' ? 'Held events released' : 'Held events discarded');
        schedule();
      } else {
        load(false);
      }
    } catch (e) {
      if (token !== viewToken) return;
      if (e instanceof ApiError && e.status === 409) {
        actionError.textContent = `${e.message || 'The breaker is not tripped any more.'} Reloaded.`;
        actionError.hidden = false;
        load(false);
        return;
      }
      reportError(e, actionError);
    }
  }

  async function release() {
    const n = b?.trip?.held ?? 0;
    const answer = await confirmDialog({
      title: 'Release the held events?',
      text: [`This will publish ${num(n)} held events in order, oldest first, to the application.`,
        'The deactivations and deletions among them take effect there. Afterwards events flow at once again and the breaker is armed.'],
      confirmLabel: `Publish ${num(n)} events`,
      reason: { label: 'Reason', required: false, placeholder: 'Planned offboarding, ticket …', hint: 'Kept with the trip.' },
      tone: 'primary',
    });
    if (!answer) return;
    resolve('release', answer.reason);
  }

  async function discard() {
    const n = b?.trip?.held ?? 0;
    const answer = await confirmDialog({
      title: 'Discard the held events?',
      text: [`This will drop ${num(n)} held events: the application never receives them.`,
        'The SCIM directory is not changed. Use it when the deprovisionings were a mistake that has been, or will be, undone in the identity provider.'],
      confirmLabel: `Discard ${num(n)} events`,
      reason: { label: 'Reason', required: true, placeholder: 'Wrong scoping rule in Entra, fixed by …', hint: 'Required: kept with the trip, for whoever asks later.' },
    });
    if (!answer) return;
    resolve('discard', answer.reason);
  }

  return {
    el,
    load,
    setActiveUsers(n) {
      activeUsers = n;
      if (b && b.state === 'armed') render();
    },
  };
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
