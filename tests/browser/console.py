#!/usr/bin/env python3
"""Browser test of the operator console against the real scim-local binary.

    python tests/browser/console.py target/debug/scim-local target/console-screenshots

Starts the binary on a free loopback port, reads its banner, and drives
Debian's Chromium (Playwright, sync API) through the console: login link
(one-time), tenants list, create (validation, conflict), token issue (secret
shown once), a SCIM request with that token from Python, health, revoke,
the request log, the tenant's settings (a merge patch with If-Match, the
API's 400 inline, a 412 reloaded), the deprovisioning breaker (armed; tripped
by deactivations through SCIM, as the binary runs with --events; its held
events; release and discard), delete with typed confirmation and its
progress, paging, narrow layout, an expired session and a stopped server.
Full-page screenshots of each state go to the screenshot directory; with
SCIM_README_SHOTS=1 the README's are refreshed in docs/images/.

Ends with one line `browser: N passed, N failed`; exits 1 on any failure.
"""
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TENANT = "acme-browser"
USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com", "active": True}
WAIT_MS = 15_000

passed = 0
failed = 0



def keep_for_readme(source, target):
    """Refresh the README's screenshot only when asked (SCIM_README_SHOTS=1):
    every run differs (port, time), so a plain run leaves the tree clean."""
    if os.environ.get("SCIM_README_SHOTS") == "1":
        shutil.copy(source, target)

def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {name}", flush=True)
    else:
        failed += 1
        print(f"  FAIL {name}{': ' + str(detail) if detail else ''}", flush=True)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The binary under test; its stdout is read line by line in a thread."""

    def __init__(self, binary):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        # Events flow (and the deprovisioning breaker counts) only with --events.
        self.events = Path(tempfile.mkdtemp(prefix="scim-console-events-")) / "events.jsonl"
        cmd = [binary, "--addr", self.addr, "--events", str(self.events)]
        if binary.endswith(".py"):  # tests/browser/mock_server.py, for working on the console
            cmd = [sys.executable] + cmd
        env = dict(os.environ)
        # A short drain before the purge, so a deletion finishes within the test.
        env.setdefault("SCIM_LOCAL_DELETE_WAIT_SECS", "2")
        env.setdefault("RUST_LOG", "info")
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL,
                                     text=True, bufsize=1, env=env)
        self.lines = queue.Queue()
        self.all_lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.all_lines.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, prefix, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited ({self.proc.returncode}) before printing {prefix!r}")
                continue
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        raise RuntimeError(f"no {prefix!r} line within {timeout} s; stdout so far: {self.all_lines}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        shutil.rmtree(self.events.parent, ignore_errors=True)

    def events_text(self):
        """The event file so far (one JSON line per published event)."""
        try:
            return self.events.read_text()
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n=40):
        self.stderr.seek(0)
        return b"".join(self.stderr.readlines()[-n:]).decode(errors="replace")


def http(method, url, token=None, body=None, content_type="application/scim+json"):
    """(status, parsed JSON or None) of one request from Python."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


def wait_js(page, expression, timeout=WAIT_MS / 1000):
    """Polls a JS expression (page.evaluate, which the console's CSP allows,
    unlike wait_for_function's eval) until it is truthy."""
    deadline = time.time() + timeout
    while True:
        if page.evaluate(expression):
            return
        if time.time() > deadline:
            raise TimeoutError(f"not true within {timeout} s: {expression}")
        time.sleep(0.1)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        print("browser: 0 passed, 1 failed")
        return 2
    binary, shots = sys.argv[1], Path(sys.argv[2])
    shots.mkdir(parents=True, exist_ok=True)
    docs = REPO / "docs" / "images"
    server = Server(binary)
    try:
        run(server, shots, docs)
    except Exception:
        check("the test ran to its end", False, traceback.format_exc())
        print("---- server stderr (tail)\n" + server.stderr_tail(), flush=True)
    finally:
        server.stop()
        server.cleanup()
    print(f"browser: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def run(server, shots, docs):
    base = "http://" + server.addr
    listening = server.wait_line("SCIM service listening on ")
    server.wait_line("Tenant URL:")
    server.wait_line("Token:")
    operator_key = server.wait_line("Operator:")
    login = server.wait_line("Console:").split()[0]
    check("banner prints the console login link", login.startswith(f"{base}/console/login?key="), login)
    check("banner prints the listening address", listening == base, listening)

    def shot(page, name):
        # Toasts fade on their own; they would only hide what is behind them.
        page.evaluate("document.getElementById('toasts')?.replaceChildren()")
        path = shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def shot_around(page, card, name, from_top=False):
        """The page 1280 px wide around one card (from the top of the page
        with from_top), for the README."""
        page.evaluate("document.getElementById('toasts')?.replaceChildren()")
        box = page.evaluate("""el => { const r = el.getBoundingClientRect();
            return {top: r.top + scrollY, bottom: r.bottom + scrollY, width: document.documentElement.clientWidth}; }""",
                            card.element_handle())
        top = 0 if from_top else max(0, box["top"] - 14)
        path = shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True,
                        clip={"x": 0, "y": top, "width": box["width"], "height": box["bottom"] + 14 - top})
        return path

    def manage(method, path, body=None):
        return http(method, f"{base}/manage/v1{path}", operator_key, body, "application/json")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        errors = []

        def new_page(width=1280, height=860):
            ctx = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
            ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            page = ctx.new_page()
            page.set_default_timeout(WAIT_MS)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            # A 4xx/5xx answer is logged by Chromium as "Failed to load resource";
            # the console provokes some on purpose (409, 401): not counted.
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
                    if m.type == "error" and "Failed to load resource" not in m.text else None)
            return ctx, page

        # ---- no session: the log-in message
        anon_ctx, anon = new_page()
        r = anon.goto(f"{base}/console")
        anon.get_by_test_id("login-needed").wait_for()
        check("without a session /console answers 401 with the log-in message",
              r.status == 401 and "Log in" in anon.get_by_test_id("login-needed").inner_text())
        shot(anon, "01-login-needed")

        # ---- the login link logs in once
        ctx, page = new_page()
        page.goto(login)
        page.get_by_test_id("tenant-row-default").wait_for()
        check("the login link opens the console on the tenants list", page.url.endswith("/console#/tenants"), page.url)
        cookies = ctx.cookies()
        session = [c for c in cookies if c["name"] == "scim_console"]
        check("the session cookie is HttpOnly and SameSite=Strict",
              bool(session) and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict", cookies)
        link = page.get_by_role("link", name="API reference")
        check("the top bar links the API reference", link.get_attribute("href") == "/manage/v1/openapi.json")
        with ctx.expect_page() as opened:
            link.click()
        reference = opened.value
        reference.wait_for_load_state()
        document = json.loads(reference.evaluate("(document.querySelector('pre') || document.body).textContent"))
        check("the API reference opens the OpenAPI document with the console session",
              document.get("openapi", "").startswith("3.1") and any(p.endswith("/tenants") for p in document.get("paths", {})),
              str(document)[:200])
        reference.close()
        next_login = server.wait_line("Console:").split()[0]
        check("a login prints the next one-time link", next_login != login and "key=" in next_login)

        r = anon.goto(login)
        anon.get_by_test_id("login-needed").wait_for()
        check("opening the login link a second time does not log in",
              r.status == 401 and not [c for c in anon_ctx.cookies() if c["name"] == "scim_console"])
        shot(anon, "02-login-link-reused")
        anon_ctx.close()

        # ---- tenants list: a few tenants for a realistic list (through the API, operator key)
        for tid, name in (("globex", "Globex Corporation"), ("initech", "Initech"), ("umbrella-eu", "Umbrella EU")):
            status, _ = manage("POST", "/tenants", {"id": tid, "displayName": name})
            check(f"operator key creates tenant {tid} through the API", status == 201, status)

        # ---- create: inline validation, the API's 409 message, then success
        page.get_by_test_id("new-tenant").click()
        form = page.get_by_test_id("create-tenant-form")
        form.wait_for()
        page.get_by_test_id("tenant-id-input").fill("Acme Browser!")
        hint = page.get_by_test_id("tenant-id-hint").inner_text()
        check("an invalid tenant id is refused inline before any request",
              page.get_by_test_id("create-tenant").is_disabled() and "owercase" in hint, hint)
        shot(page, "03-create-invalid")
        page.get_by_test_id("tenant-id-input").fill("-acme")
        check("a tenant id starting with '-' is refused inline", page.get_by_test_id("create-tenant").is_disabled())
        page.get_by_test_id("tenant-id-input").fill("globex")
        page.get_by_test_id("create-tenant").click()
        err = page.get_by_test_id("create-tenant-error")
        err.wait_for()
        check("creating an existing tenant shows the API's error message", "globex" in err.inner_text(), err.inner_text())
        shot(page, "04-create-conflict")
        page.get_by_test_id("tenant-id-input").fill(TENANT)
        page.get_by_test_id("tenant-name-input").fill("Acme Corp (browser test)")
        page.get_by_test_id("create-tenant").click()
        page.get_by_test_id("tenant-id").wait_for()
        check("creating a tenant opens its page", page.get_by_test_id("tenant-id").inner_text() == TENANT
              and page.url.endswith(f"#/tenants/{TENANT}"), page.url)
        tenant_url = page.get_by_test_id("tenant-url").input_value()
        check("the tenant page shows the Tenant URL", tenant_url == f"{base}/scim/v2/{TENANT}", tenant_url)
        page.get_by_test_id("no-request").wait_for()
        check("a new tenant's health says no SCIM request yet",
              "No SCIM request yet" in page.get_by_test_id("no-request").inner_text()
              and page.get_by_test_id("health-users-total").inner_text() == "0")
        check("the tenant page shows how to connect an identity provider",
              all(w in page.get_by_test_id("how-to-connect").inner_text() for w in ("Entra", "Okta", "Tenant URL")))
        page.get_by_test_id("tokens-empty").wait_for()
        shot(page, "05-tenant-new")

        # ---- the tenants list, with search
        page.get_by_test_id("nav-tenants").click()
        page.get_by_test_id(f"tenant-row-{TENANT}").wait_for()
        rows = page.locator("[data-testid^=tenant-row-]").count()
        check("the tenants list shows every tenant", rows == 5, rows)
        keep_for_readme(shot(page, "06-tenants"), docs / "console-tenants.png")
        page.get_by_test_id("tenant-search").fill("acme")
        wait_js(page, "document.querySelectorAll('[data-testid^=tenant-row-]').length === 1")
        check("the search filters the list by id prefix", page.get_by_test_id(f"tenant-row-{TENANT}").is_visible())
        page.get_by_test_id("tenant-search").fill("zzz")
        page.get_by_test_id("tenants-empty").wait_for()
        check("a search without match says so", "zzz" in page.get_by_test_id("tenants-empty").inner_text())
        page.get_by_test_id("tenant-search").fill("")
        page.get_by_test_id(f"tenant-row-{TENANT}").get_by_test_id("tenant-link").click()
        page.get_by_test_id("tenant-id").wait_for()

        # ---- issue a token: the secret once
        page.get_by_test_id("issue-token").click()
        page.get_by_test_id("token-name-input").fill("entra-browser")
        page.get_by_test_id("issue-token-submit").click()
        panel = page.get_by_test_id("token-secret-panel")
        panel.wait_for()
        secret = page.get_by_test_id("token-secret").input_value()
        check("issuing a token shows its secret", secret.startswith("scim_"), secret[:8])
        check("the secret panel says to copy it now",
              "copy it now, it is not shown again" in page.get_by_test_id("secret-note").inner_text().lower())
        check("the secret panel shows the Tenant URL", page.get_by_test_id("token-tenant-url").input_value() == tenant_url)
        page.get_by_test_id("copy-token-secret").click()
        clip = page.evaluate("navigator.clipboard.readText()")
        check("the Copy button copies the secret", clip == secret)
        page.get_by_test_id("tokens-table").wait_for()
        token_rows = page.locator("[data-testid^=token-row-]")
        token_id = token_rows.first.get_attribute("data-testid")[len("token-row-"):]
        check("the token is listed by name", token_rows.count() == 1
              and token_rows.first.get_by_test_id("token-name").inner_text() == "entra-browser")
        check("the tokens table shows no secret", secret not in page.get_by_test_id("tokens").inner_text())
        shot(page, "07-token-issued")

        # ---- the token works from Python; health shows it
        status, body = http("POST", f"{tenant_url}/Users", secret, USER)
        check("SCIM POST /Users with the issued token answers 201", status == 201, (status, body))
        deadline = time.time() + 15
        total = method = last_status = None
        while time.time() < deadline:
            page.get_by_test_id("health-refresh").click()
            wait_js(page, "!document.querySelector('[data-testid=health-refresh]').disabled")
            total = page.get_by_test_id("health-users-total").inner_text()
            if page.get_by_test_id("last-request").count():
                method = page.get_by_test_id("last-method").inner_text()
                last_status = page.get_by_test_id("last-status").inner_text()
            if (total, method, last_status) == ("1", "POST", "201"):
                break
            time.sleep(0.5)
        check("after refresh, health shows users total 1", total == "1", total)
        check("after refresh, health shows the last request POST 201", (method, last_status) == ("POST", "201"),
              (method, last_status))
        check("the last request's path is shown", page.get_by_test_id("last-path").inner_text().endswith(f"/scim/v2/{TENANT}/Users"),
              page.get_by_test_id("last-path").inner_text())
        wait_js(page,
            "[...document.querySelectorAll('[data-testid=token-last-used]')].some(e => !e.textContent.includes('Never'))")
        check("the token's last use is shown", "Never" not in page.get_by_test_id("token-last-used").first.inner_text())
        page.get_by_test_id("secret-done").click()
        check("closing the secret panel removes the secret", secret not in page.content())
        keep_for_readme(shot(page, "08-tenant-health"), docs / "console-tenant.png")

        # ---- the secret is never shown again
        page.get_by_test_id("issue-token").click()
        page.get_by_test_id("token-name-input").fill("okta-browser")
        page.get_by_test_id("token-expiry-input").fill("2020-01-01")
        check("an expiry in the past is refused inline", page.get_by_test_id("issue-token-submit").is_disabled())
        next_year = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 365 * 86400))
        page.get_by_test_id("token-expiry-input").fill(next_year)
        page.get_by_test_id("issue-token-submit").click()
        page.get_by_test_id("token-secret-panel").wait_for()
        secret2 = page.get_by_test_id("token-secret").input_value()
        _, listed = manage("GET", f"/tenants/{TENANT}/tokens")
        expiries = [t.get("expiresAt") for t in (listed or {}).get("tokens", []) if t.get("name") == "okta-browser"]
        check("a token issued with an expiry date expires at the start of that day (UTC)",
              expiries == [f"{next_year}T00:00:00Z"], expiries)
        page.get_by_test_id("nav-tenants").click()
        page.get_by_test_id(f"tenant-row-{TENANT}").wait_for()
        page.go_back()
        page.get_by_test_id("tokens-table").wait_for()
        check("after navigating away and back, the secret is not displayed",
              secret2 not in page.content() and page.get_by_test_id("token-secret-panel").count() == 0)
        page.reload()
        page.get_by_test_id("tokens-table").wait_for()
        check("after a reload, the secret is not displayed", secret2 not in page.content())
        check("no secret is kept in the browser's storage", page.evaluate(
            "s => !JSON.stringify({...localStorage, ...sessionStorage}).includes(s) && !location.href.includes(s)", secret2))

        # ---- revoke (with confirmation); the token then answers 401
        page.get_by_test_id(f"revoke-{token_id}").click()
        page.get_by_test_id("confirm-dialog").wait_for()
        shot(page, "09-revoke-dialog")
        page.get_by_test_id("confirm-cancel").click()
        check("cancelling the revoke keeps the token", page.get_by_test_id(f"token-row-{token_id}").is_visible())
        page.get_by_test_id(f"revoke-{token_id}").click()
        page.get_by_test_id("confirm-ok").click()
        page.get_by_test_id(f"token-row-{token_id}").wait_for(state="detached")
        check("a revoked token leaves the list", page.locator("[data-testid^=token-row-]").count() == 1)
        deadline = time.time() + 20
        while True:
            status, _ = http("POST", f"{tenant_url}/Users", secret, USER)
            if status == 401 or time.time() > deadline:
                break
            time.sleep(0.5)
        check("after the revoke the same SCIM request answers 401", status == 401, status)
        deadline = time.time() + 15
        while True:
            page.get_by_test_id("health-refresh").click()
            wait_js(page, "!document.querySelector('[data-testid=health-refresh]').disabled")
            pill = page.get_by_test_id("errors-hour").locator("[data-testid=status-401]")
            if pill.count() or time.time() > deadline:
                break
            time.sleep(0.5)
        check("health counts the 401 in the last hour's errors, in the 4xx colour",
              pill.count() == 1 and "pill-warn" in (pill.get_attribute("class") or ""))
        check("the 2xx status of an earlier request has the 2xx colour",
              "pill-ok" in (page.get_by_test_id("last-status").get_attribute("class") or "")
              or page.get_by_test_id("last-status").inner_text() == "401")

        shot(page, "10-token-revoked")

        # ---- the request log: what the identity provider sent, what it was answered
        users = http("GET", f"{tenant_url}/Users?filter=" + urllib.parse.quote('userName eq "ada@example.com"'), secret2)[1]
        ada_id = users["Resources"][0]["id"]
        status, _ = http("PATCH", f"{tenant_url}/Users/{ada_id}", secret2, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
        check("a PATCH deactivating the user answers 200", status == 200, status)
        status, _ = http("POST", f"{tenant_url}/Users", secret2, USER)
        check("a duplicate userName answers 409", status == 409, status)
        page.get_by_test_id("open-request-log").click()
        page.get_by_test_id("log-table").wait_for()
        deadline = time.time() + 15
        actions = []
        while time.time() < deadline:
            actions = page.get_by_test_id("log-action").all_inner_texts()
            if len(actions) >= 5:
                break
            page.get_by_test_id("log-refresh").click()
            time.sleep(0.5)
        check("the request log lists the tenant's requests newest first",
              [a.split()[0] for a in actions[:3]] == ["rejected", "user.deactivated", "user.lookup"]
              and "user.created" in [a.split()[0] for a in actions], actions)
        targets = page.get_by_test_id("log-target").all_inner_texts()
        check("targets are masked personal data", "ad***" in targets[0] and not any("ada@example.com" in t for t in targets),
              targets)
        rows = page.get_by_test_id("log-row")
        rows.nth(1).click()
        detail = page.get_by_test_id("request-detail")
        detail.wait_for()
        change = page.get_by_test_id("detail-change").inner_text()
        check("a row opens its record with the change before and after",
              "active" in change and "true" in change and "false" in change, change)
        shot(page, "10a-request-log-change")
        rows.nth(0).click()
        page.get_by_test_id("detail-error").wait_for()
        error = page.get_by_test_id("detail-error").inner_text()
        check("an error row shows the SCIM error", "uniqueness" in error and "userName" in error, error)
        page.get_by_test_id("filter-status").select_option("4xx")
        wait_js(page, "[...document.querySelectorAll('[data-testid=log-status]')].every(e => e.textContent.startsWith('4'))")
        statuses = page.get_by_test_id("log-status").all_inner_texts()
        check("the status filter keeps 4xx only: the 409 and the revoked token's 401",
              sorted(statuses) == ["401", "409"], statuses)
        page.get_by_test_id("filter-status").select_option("")
        wait_js(page, "document.querySelectorAll('[data-testid=log-row]').length >= 5")
        page.get_by_test_id("log-row").nth(1).click()
        page.get_by_test_id("request-detail").wait_for()
        keep_for_readme(shot(page, "10b-request-log"), docs / "console-request-log.png")
        page.go_back()
        page.get_by_test_id("tokens-table").wait_for()

        # ---- settings: shown, changed, saved as a merge patch of what changed with If-Match
        settings_url = f"/tenants/{TENANT}/settings"
        page.get_by_test_id("settings-form").wait_for()
        _, before = manage("GET", settings_url)
        option = lambda testid: page.get_by_test_id(testid).locator("option").first.inner_text()
        check("the settings card shows the tenant's settings",
              before is not None
              and page.get_by_test_id("settings-idp").input_value() == before["settings"]["idp"] == "rfc"
              and page.get_by_test_id("settings-breaker-threshold").input_value() == str(before["settings"]["breaker"]["threshold"])
              and page.get_by_test_id("settings-breaker-enabled").is_checked(), before)
        check("a switch that follows the profile says what it currently is",
              "currently: rfc" in option("settings-members-replace") and "currently: clear" in option("settings-group-put"),
              (option("settings-members-replace"), option("settings-group-put")))
        check("Save is disabled while nothing changed", page.get_by_test_id("settings-save").is_disabled())
        page.get_by_test_id("settings-idp").select_option("entra")
        check("choosing the Entra ID profile changes what the switches follow",
              "currently: additive" in option("settings-members-replace") and "currently: keep" in option("settings-group-put"))
        help_text = page.get_by_test_id("help-members-replace").inner_text()
        check("each switch is explained in plain words",
              "adds them instead of replacing the list" in help_text
              and "keeps the members" in page.get_by_test_id("help-group-put").inner_text(), help_text)
        page.get_by_test_id("settings-idp").select_option("okta")
        page.get_by_test_id("settings-group-put").select_option("clear")
        page.get_by_test_id("settings-breaker-threshold").fill("5")
        check("changed fields are marked and counted before saving",
              page.locator("[data-field].is-dirty").count() == 3
              and "3 unsaved changes" in page.get_by_test_id("settings-status").inner_text(),
              page.get_by_test_id("settings-status").inner_text())
        with page.expect_request(lambda r: r.method == "PATCH" and r.url.endswith("/settings")) as sent_info:
            page.get_by_test_id("settings-save").click()
        sent = sent_info.value
        patch_body = json.loads(sent.post_data or "null")
        check("Save sends a merge patch of only what changed, with If-Match",
              patch_body == {"idp": "okta", "groupPutWithoutMembers": "clear", "breaker": {"threshold": 5}}
              and sent.headers.get("if-match") == f'W/"{before["version"]}"', (patch_body, sent.headers.get("if-match")))
        wait_js(page, f"document.querySelector('[data-testid=settings-version]').textContent.includes('{before['version'] + 1}')")
        _, after = manage("GET", settings_url)
        s = after["settings"]
        check("the API has the saved settings (GET from Python)",
              (s["idp"], s.get("groupPutWithoutMembers"), s.get("membersReplace"), s["breaker"]["threshold"], s["breaker"]["percent"])
              == ("okta", "clear", None, 5, 10) and after["version"] == before["version"] + 1, after)
        first_change = page.get_by_test_id("settings-history-row").first
        check("the change history shows who changed which fields",
              first_change.get_by_test_id("history-by").inner_text() == after["history"][0]["by"]
              and all(f in first_change.get_by_test_id("history-changed").inner_text() for f in ("idp", "breaker.threshold", "groupPutWithoutMembers")),
              first_change.inner_text())
        check("after saving nothing is left unsaved", page.get_by_test_id("settings-save").is_disabled()
              and page.locator("[data-field].is-dirty").count() == 0)
        page.get_by_test_id("settings-group-put").select_option("")
        with page.expect_request(lambda r: r.method == "PATCH" and r.url.endswith("/settings")) as sent_info:
            page.get_by_test_id("settings-save").click()
        patch_body = json.loads(sent_info.value.post_data or "null")
        check("following the profile again removes the override (null in the merge patch)",
              patch_body == {"groupPutWithoutMembers": None}, patch_body)
        wait_js(page, f"document.querySelector('[data-testid=settings-version]').textContent.includes('{before['version'] + 2}')")
        _, after = manage("GET", settings_url)
        check("the API follows the Okta profile again: group PUT without members keeps them",
              "groupPutWithoutMembers" not in after["settings"] and after["effective"]["groupPutWithoutMembers"] == "keep"
              and "currently: keep" in option("settings-group-put"), after)
        settings_card = page.get_by_test_id("settings")
        settings_card.scroll_into_view_if_needed()
        keep_for_readme(shot_around(page, settings_card, "10c-settings"), docs / "console-settings.png")

        # an invalid value: the API's 400 under the field it names
        page.get_by_test_id("settings-breaker-percent").fill("300")
        page.get_by_test_id("settings-save").click()
        percent_error = page.get_by_test_id("settings-error-percent")
        percent_error.wait_for()
        check("a value the API refuses (percent 300) shows its 400 message under that field",
              "percent" in percent_error.inner_text()
              and page.get_by_test_id("settings-breaker-percent").get_attribute("aria-invalid") == "true",
              percent_error.inner_text())
        shot(page, "10d-settings-invalid")
        _, still = manage("GET", settings_url)
        check("the refused value is not saved", still["settings"]["breaker"]["percent"] == 10 and still["version"] == after["version"])
        page.get_by_test_id("settings-undo").click()
        check("Undo puts the saved values back", page.get_by_test_id("settings-breaker-percent").input_value() == "10"
              and not percent_error.is_visible())

        # someone else changes the settings meanwhile: 412, reloaded
        status, _ = manage("PATCH", settings_url, {"breaker": {"windowMinutes": 30}})
        check("the operator key changes the settings through the API", status == 200, status)
        page.get_by_test_id("settings-breaker-threshold").fill("7")
        page.get_by_test_id("settings-save").click()
        notice = page.get_by_test_id("settings-notice")
        notice.wait_for()
        check("a change made meanwhile by someone else is not overwritten (412): the card says so and reloads",
              "changed by someone else, reloaded" in notice.inner_text().lower()
              and page.get_by_test_id("settings-breaker-window").input_value() == "30"
              and page.get_by_test_id("settings-breaker-threshold").input_value() == "5", notice.inner_text())
        _, still = manage("GET", settings_url)
        check("the other change stands", (still["settings"]["breaker"]["threshold"], still["settings"]["breaker"]["windowMinutes"]) == (5, 30))

        # ---- the deprovisioning breaker: armed, window count against the threshold
        breaker_url = f"/tenants/{TENANT}/breaker"
        breaker_card = page.get_by_test_id("breaker")
        page.get_by_test_id("breaker-refresh").click()
        wait_js(page, "document.querySelector('[data-testid=breaker]').dataset.state === 'armed'")
        _, armed = manage("GET", breaker_url)
        window = page.get_by_test_id("breaker-window").inner_text()
        check("the breaker card shows 'armed' and the window's count against the threshold",
              page.get_by_test_id("breaker-state").inner_text().strip() == "Armed"
              and armed["state"] == "armed" and window.replace("\u202f", " ") == f"{armed['windowCount']} / 5",
              (window, armed))
        shot(page, "10e-breaker-armed")

        # ---- tripped: threshold 1, percent 0, then deactivations through SCIM
        status, _ = manage("PATCH", settings_url, {"breaker": {"threshold": 1, "percent": 0}})
        check("threshold 1 and percent 0 set through the API", status == 200, status)
        wave = []
        for name in ("bob", "carol", "dave"):
            status, u = http("POST", f"{tenant_url}/Users", secret2, {**USER, "userName": f"{name}@example.com"})
            wave.append(u["id"] if status == 201 else None)
        deactivated = [http("PATCH", f"{tenant_url}/Users/{uid}", secret2, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}]})[0] for uid in wave if uid]
        http("PATCH", f"{tenant_url}/Users/{wave[0]}", secret2, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Bob B."}]})
        check("three users created and deactivated through SCIM", deactivated == [200, 200, 200], (wave, deactivated))
        deadline = time.time() + 20
        while time.time() < deadline:
            page.get_by_test_id("breaker-refresh").click()
            wait_js(page, "!document.querySelector('[data-testid=breaker-refresh]').disabled")
            if breaker_card.get_attribute("data-state") == "tripped":
                break
            time.sleep(0.5)
        _, tripped = manage("GET", breaker_url)
        check("the breaker trips and the card says so", breaker_card.get_attribute("data-state") == "tripped"
              and page.get_by_test_id("breaker-state").inner_text().strip() == "Tripped"
              and (tripped or {}).get("state") == "tripped", tripped)
        trip = (tripped or {}).get("trip") or {}
        check("the tripped card shows the count, when, the held total and held by type",
              page.get_by_test_id("breaker-count").inner_text() == str(trip.get("count"))
              and page.get_by_test_id("breaker-held").inner_text() == str(trip.get("held"))
              and page.get_by_test_id("breaker-tripped-at").locator("time").count() == 1
              and "user.deactivated" in page.get_by_test_id("breaker-held-by-type").inner_text(), trip)
        check("a tripped breaker comes first on the tenant page",
              page.evaluate("document.querySelector('[data-testid=breaker]').getBoundingClientRect().top"
                            " < document.querySelector('[data-testid=health]').getBoundingClientRect().top"))
        wait_js(page, "document.querySelectorAll('[data-testid=held-row]').length > 0")
        held_targets = page.get_by_test_id("held-target").all_inner_texts()
        held_types = page.get_by_test_id("held-type-cell").all_inner_texts()
        check("the held events table lists them, oldest first",
              len(held_types) == trip.get("held") and held_types.count("user.deactivated") >= 2
              and any("carol" in t or "dave" in t for t in held_targets), (held_types, held_targets))
        page.get_by_test_id("held-type").select_option("user.deactivated")
        wait_js(page, "[...document.querySelectorAll('[data-testid=held-type-cell]')].every(e => e.textContent === 'user.deactivated')"
                      " && document.querySelector('[data-testid=held-type]').value === 'user.deactivated'")
        check("the type filter keeps one type of held event",
              set(page.get_by_test_id("held-type-cell").all_inner_texts()) == {"user.deactivated"})
        page.get_by_test_id("held-type").select_option("")
        wait_js(page, f"document.querySelectorAll('[data-testid=held-row]').length === {len(held_types)}")
        keep_for_readme(shot_around(page, breaker_card, "10f-breaker-tripped", from_top=True), docs / "console-breaker.png")

        nctx, narrow = new_page(800, 900)
        nctx.add_cookies([{k: c[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}
                          for c in ctx.cookies() if c["name"] == "scim_console"])
        narrow.goto(f"{base}/console#/tenants/{TENANT}")
        narrow.get_by_test_id("held-row").first.wait_for()
        narrow.get_by_test_id("settings-form").wait_for()
        width = narrow.evaluate("document.documentElement.scrollWidth")
        check("at 800 px the tripped breaker and the settings do not scroll sideways", width <= 800, width)
        shot(narrow, "10g-breaker-tripped-800px")
        nctx.close()

        # release: confirmed, progress, armed again; the held events reach the event file
        events_before = server.events_text()
        page.get_by_test_id("breaker-release").click()
        page.get_by_test_id("confirm-dialog").wait_for()
        dialog_text = page.get_by_test_id("confirm-dialog").inner_text()
        check("Release asks first: publish N held events in order",
              f"publish {trip.get('held')} held events in order" in dialog_text.lower(), dialog_text)
        shot(page, "10h-release-dialog")
        page.get_by_test_id("confirm-ok").click()
        deadline = time.time() + 30
        seen = set()
        while time.time() < deadline:
            seen.add(breaker_card.get_attribute("data-state"))
            if breaker_card.get_attribute("data-state") == "armed":
                break
            time.sleep(0.1)
        _, released = manage("GET", breaker_url)
        check("Release brings the breaker back to armed", breaker_card.get_attribute("data-state") == "armed"
              and (released or {}).get("state") == "armed" and page.get_by_test_id("held").is_hidden(), (seen, released))
        events_after = server.events_text()
        deactivation = lambda text, uid: any("user.deactivated" in line and uid in line for line in text.splitlines())
        check("the held deactivations reach the event file after the release, not before",
              not deactivation(events_before, wave[1]) and deactivation(events_after, wave[1]),
              events_after[-600:])

        # trip again and discard: a reason is required
        extra = []
        for name in ("erin", "frank"):
            status, u = http("POST", f"{tenant_url}/Users", secret2, {**USER, "userName": f"{name}@example.com"})
            if status == 201:
                extra.append(u["id"])
        for uid in extra:
            http("DELETE", f"{tenant_url}/Users/{uid}", secret2)
        deadline = time.time() + 20
        while time.time() < deadline:
            page.get_by_test_id("breaker-refresh").click()
            wait_js(page, "!document.querySelector('[data-testid=breaker-refresh]').disabled")
            if breaker_card.get_attribute("data-state") == "tripped":
                break
            time.sleep(0.5)
        check("two deletions trip it again", breaker_card.get_attribute("data-state") == "tripped")
        if breaker_card.get_attribute("data-state") == "tripped":
            wait_js(page, "document.querySelectorAll('[data-testid=held-row]').length > 0")
            held_ids = page.get_by_test_id("held-id").all_inner_texts()
            page.get_by_test_id("breaker-discard").click()
            page.get_by_test_id("confirm-dialog").wait_for()
            check("Discard needs a reason first", page.get_by_test_id("confirm-ok").is_disabled())
            page.get_by_test_id("confirm-reason").fill("test deletions, not meant for the application")
            check("with a reason it can be confirmed", page.get_by_test_id("confirm-ok").is_enabled())
            shot(page, "10i-discard-dialog")
            with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/breaker/discard")) as sent_info:
                page.get_by_test_id("confirm-ok").click()
            check("the reason is sent with the discard",
                  json.loads(sent_info.value.post_data or "{}").get("reason") == "test deletions, not meant for the application")
            deadline = time.time() + 30
            while time.time() < deadline and breaker_card.get_attribute("data-state") != "armed":
                time.sleep(0.1)
            _, discarded = manage("GET", breaker_url)
            check("Discard brings the breaker back to armed", breaker_card.get_attribute("data-state") == "armed"
                  and (discarded or {}).get("state") == "armed", discarded)
            # The deletion that tripped it, and any after, were held: discarded, never published.
            held_deleted = [uid for uid in extra if uid in held_ids]
            deleted = lambda uid: any("user.deleted" in line and uid in line for line in server.events_text().splitlines())
            check("the discarded deletions never reach the event file",
                  held_deleted and not any(map(deleted, held_deleted)), (extra, held_ids))
        status, _ = manage("PATCH", settings_url, {"breaker": {"threshold": 20, "percent": 10, "windowMinutes": 60}})
        check("the breaker's defaults restored through the API", status == 200, status)
        status, _ = manage("POST", f"{breaker_url}/release", {})
        check("releasing an armed breaker answers 409", status == 409, status)

        # ---- the console's state-changing calls need the CSRF header (the page sends it)
        forged = page.evaluate("""async () => (await fetch('/manage/v1/tenants', {method: 'POST',
            credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({id: 'forged'})})).status""")
        check("a console POST without the X-CSRF-Token header is refused (403)", forged == 403, forged)

        # ---- narrow layout (800 px)
        nctx, narrow = new_page(800, 900)
        nctx.add_cookies([{k: c[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}
                          for c in ctx.cookies() if c["name"] == "scim_console"])
        narrow.goto(f"{base}/console#/tenants/{TENANT}")
        narrow.get_by_test_id("tokens-table").wait_for()
        narrow.get_by_test_id("health-users-total").wait_for()
        width = narrow.evaluate("document.documentElement.scrollWidth")
        check("at 800 px the tenant page does not scroll sideways", width <= 800, width)
        shot(narrow, "11-tenant-800px")
        narrow.goto(f"{base}/console#/tenants")
        narrow.get_by_test_id(f"tenant-row-{TENANT}").wait_for()
        width = narrow.evaluate("document.documentElement.scrollWidth")
        check("at 800 px the tenants list does not scroll sideways", width <= 800, width)
        shot(narrow, "12-tenants-800px")
        nctx.close()

        # ---- delete from the list: typed confirmation, progress, gone
        page.get_by_test_id("nav-tenants").click()
        page.get_by_test_id("delete-initech").click()
        page.get_by_test_id("confirm-dialog").wait_for()
        check("the delete button stays disabled until the tenant id is typed", page.get_by_test_id("confirm-ok").is_disabled())
        page.get_by_test_id("confirm-input").fill("initec")
        check("a wrong id keeps it disabled", page.get_by_test_id("confirm-ok").is_disabled())
        page.get_by_test_id("confirm-input").fill("initech")
        shot(page, "13-delete-dialog")
        page.get_by_test_id("confirm-ok").click()
        row = page.get_by_test_id("tenant-row-initech")
        row.get_by_test_id("deletion-progress").wait_for()
        check("a tenant being deleted shows 'deleting' and its progress",
              row.get_by_test_id("tenant-status").inner_text().strip() == "deleting"
              and "items deleted" in row.get_by_test_id("deletion-progress").inner_text())
        shot(page, "14-tenant-deleting")
        row.wait_for(state="detached", timeout=60_000)
        check("the deleted tenant leaves the list once purged", page.get_by_test_id("tenant-row-initech").count() == 0)

        # ---- delete from the tenant page
        page.get_by_test_id(f"tenant-row-{TENANT}").get_by_test_id("tenant-link").click()
        page.get_by_test_id("delete-tenant").click()
        page.get_by_test_id("confirm-input").fill(TENANT)
        page.get_by_test_id("confirm-ok").click()
        page.get_by_test_id("deletion").wait_for()
        phase = page.get_by_test_id("deletion-phase").inner_text()
        check("the tenant page shows the deletion phase", phase in ("waiting", "purging"), phase)
        shot(page, "15-tenant-page-deleting")
        page.get_by_test_id("tenant-deleted").wait_for(timeout=60_000)
        check("the tenant page says when the tenant is gone", page.get_by_test_id("tenant-deleted").is_visible())
        status, _ = manage("GET", f"/tenants/{TENANT}")
        check("the deleted tenant answers 404", status == 404, status)

        # ---- paging through nextCursor
        for i in range(55):
            manage("POST", "/tenants", {"id": f"page-{i:02d}"})
        page.get_by_test_id("nav-tenants").click()
        page.get_by_test_id("load-more").wait_for()
        first = page.locator("[data-testid^=tenant-row-]").count()
        page.get_by_test_id("load-more").click()
        page.get_by_test_id("load-more").wait_for(state="hidden")
        total_rows = page.locator("[data-testid^=tenant-row-]").count()
        check("the list pages with 'Load more'", first == 50 and total_rows == 58, (first, total_rows))

        # ---- an expired session
        ctx.clear_cookies()
        page.get_by_test_id("tenant-row-globex").get_by_test_id("tenant-link").click()
        page.get_by_test_id("session-expired").wait_for()
        check("a 401 from the API says the session expired",
              "Session expired: open the login link printed by scim-local again" in page.get_by_test_id("session-expired").inner_text())
        shot(page, "16-session-expired")

        # ---- the server stops: a network error banner, dismissible
        ctx2, page2 = new_page()
        page2.goto(next_login)
        page2.get_by_test_id("tenant-row-globex").get_by_test_id("tenant-link").click()
        page2.get_by_test_id("health-users-total").wait_for()
        server.stop()
        page2.get_by_test_id("health-refresh").click()
        banner = page2.get_by_test_id("error-banner")
        banner.wait_for()
        check("a network error shows a banner", "cannot reach" in banner.inner_text(), banner.inner_text())
        shot(page2, "17-network-error")
        banner.get_by_test_id("banner-dismiss").click()
        check("the banner can be dismissed", page2.get_by_test_id("error-banner").count() == 0)

        check("no JavaScript error in the console", not errors, errors)
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
