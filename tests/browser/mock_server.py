#!/usr/bin/env python3
"""A stand-in for scim-local's operator plane, for working on the console
without a Rust build: serves src/api/console/ and fakes /manage/v1 (as
docs/management-api.md describes it) and a minimal SCIM POST /Users.

    python3 tests/browser/mock_server.py --addr 127.0.0.1:8099

It prints the same banner as scim-local. Not used by tests/run.sh.
"""
import argparse
import datetime as dt
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "api" / "console"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
LOGIN_NEEDED = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in - SCIM console</title>'
                '<link rel="stylesheet" href="/console/app.css"></head><body class="login-needed">'
                '<main class="card narrow" data-testid="login-needed"><h1>Log in to the console</h1>'
                '<p>Open the one-time login link that <code>scim-local</code> printed in its terminal.</p></main></body></html>')
DELETE_WAIT = 3.0
LOCK = threading.Lock()


def now():
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    def __init__(self, origin):
        self.origin = origin
        self.login = secrets.token_urlsafe(24)
        self.operator_key = secrets.token_urlsafe(24)
        self.sessions = {}
        self.tenants = {}
        self.tokens = {}  # secret -> (tenant, token dict)
        self.requests = {}

    def tenant_view(self, tid):
        t = self.tenants[tid]
        v = {k: t[k] for k in ("id", "displayName", "created", "status") if t.get(k) is not None}
        v["tenantUrl"] = f"{self.origin}/scim/v2/{tid}"
        v["tokenCount"] = len([1 for (ten, _) in self.tokens.values() if ten == tid])
        if t["status"] == "deleting":
            age = time.time() - t["deleteStarted"]
            if age > 2 * DELETE_WAIT:
                return None
            phase = "waiting" if age < DELETE_WAIT else "purging"
            v["deletion"] = {"requested": t["deleteRequested"], "phase": phase,
                             "itemsDeleted": 0 if phase == "waiting" else int((age - DELETE_WAIT) * 1000)}
        return v


STATE: State = None


def create(tid, name=None):
    STATE.tenants[tid] = {"id": tid, "displayName": name, "created": now(), "status": "active", "users": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def err(self, status, code, message):
        self.send(status, {"code": code, "message": message, "requestId": secrets.token_hex(8)})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def session(self):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "scim_console" and v in STATE.sessions:
                return STATE.sessions[v]
        return None

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        with LOCK:
            self._route(method)

    def _route(self, method):
        url = urlsplit(self.path)
        path = url.path
        raw = self.body()
        if path == "/console/login":
            key = parse_qs(url.query).get("key", [""])[0]
            if STATE.login and key == STATE.login:
                STATE.login = secrets.token_urlsafe(24)
                sid = secrets.token_urlsafe(24)
                STATE.sessions[sid] = secrets.token_urlsafe(24)
                print(f"Console:    {STATE.origin}/console/login?key={STATE.login} (the next one-time login link)", flush=True)
                return self.send(303, "", "text/html", {"Location": "/console",
                                 "Set-Cookie": f"scim_console={sid}; Path=/; HttpOnly; SameSite=Strict"})
            return self.send(401, LOGIN_NEEDED, "text/html; charset=utf-8")
        if path in ("/console", "/console/"):
            csrf = self.session()
            if not csrf:
                return self.send(401, LOGIN_NEEDED, "text/html; charset=utf-8")
            html = (CONSOLE / "index.html").read_text().replace("{{CSRF_TOKEN}}", csrf)
            return self.send(200, html, "text/html; charset=utf-8")
        if path in ("/console/app.js", "/console/app.css"):
            f = CONSOLE / path.rsplit("/", 1)[1]
            return self.send(200, f.read_bytes(), "text/javascript" if f.suffix == ".js" else "text/css")
        if path.startswith("/scim/v2/"):
            return self.scim(method, path, raw)
        if path.startswith("/manage/v1/"):
            if self.headers.get("Authorization") == f"Bearer {STATE.operator_key}":
                return self.manage(method, path[len("/manage/v1"):], url.query, raw)
            csrf = self.session()
            if not csrf:
                return self.err(401, "unauthorized", "valid credentials are required: a SigV4 signature on AWS, the operator key or a console session locally")
            if method != "GET" and self.headers.get("X-CSRF-Token") != csrf:
                return self.err(403, "forbidden", "a console call that changes something needs the X-CSRF-Token header")
            return self.manage(method, path[len("/manage/v1"):], url.query, raw)
        self.send(404, "not found", "text/plain")

    def scim(self, method, path, raw):
        parts = path.split("/")
        tid = parts[3]
        auth = self.headers.get("Authorization", "")
        secret = auth[7:] if auth.startswith("Bearer ") else ""
        tok = STATE.tokens.get(secret)
        if not tok or tok[0] != tid or STATE.tenants.get(tid, {}).get("status") != "active":
            status = 401
            self.send(401, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "401"}, "application/scim+json")
        else:
            tok[1]["lastUsed"] = now()
            user = json.loads(raw)
            STATE.tenants[tid]["users"].append(user)
            status = 201
            self.send(201, {**user, "id": secrets.token_hex(8)}, "application/scim+json")
        if tid in STATE.tenants:
            STATE.requests[tid] = {"time": now(), "method": method, "path": path, "status": status,
                                   "userAgent": self.headers.get("User-Agent", "")}

    def manage(self, method, rest, query, raw):
        parts = [p for p in rest.split("/") if p]
        if parts == ["tenants"] and method == "GET":
            q = parse_qs(query)
            prefix = q.get("prefix", [""])[0]
            limit = int(q.get("limit", ["50"])[0])
            cursor = q.get("cursor", [""])[0]
            ids = sorted(t for t in STATE.tenants if t.startswith(prefix) and t > cursor)
            views = []
            for tid in ids:
                v = STATE.tenant_view(tid)
                if v is None:
                    del STATE.tenants[tid]
                    continue
                views.append(v)
            page = {"tenants": views[:limit]}
            if len(views) > limit:
                page["nextCursor"] = views[limit - 1]["id"]
            return self.send(200, page)
        if parts == ["tenants"] and method == "POST":
            body = json.loads(raw or b"{}")
            tid = body.get("id", "")
            import re
            if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", tid):
                return self.err(400, "invalid_request", "id: a tenant id is 1-63 lowercase letters, digits and -")
            if tid in STATE.tenants:
                return self.err(409, "conflict", f"tenant {tid} already exists")
            create(tid, body.get("displayName"))
            return self.send(201, STATE.tenant_view(tid), headers={"Location": f"/manage/v1/tenants/{tid}"})
        if len(parts) >= 2 and parts[0] == "tenants":
            tid = parts[1]
            v = STATE.tenant_view(tid) if tid in STATE.tenants else None
            if v is None:
                STATE.tenants.pop(tid, None)
                return self.err(404, "not_found", f"tenant {tid} does not exist")
            t = STATE.tenants[tid]
            if len(parts) == 2 and method == "GET":
                return self.send(200, v)
            if len(parts) == 2 and method == "DELETE":
                if t["status"] != "deleting":
                    t.update(status="deleting", deleteStarted=time.time(), deleteRequested=now())
                    for s in [s for s, (ten, _) in STATE.tokens.items() if ten == tid]:
                        del STATE.tokens[s]
                return self.send(202, STATE.tenant_view(tid))
            if parts[2:] == ["tokens"] and method == "GET":
                toks = [dict(d) for (ten, d) in STATE.tokens.values() if ten == tid]
                return self.send(200, {"tokens": toks})
            if parts[2:] == ["tokens"] and method == "POST":
                body = json.loads(raw or b"{}")
                name = body.get("name")
                if not isinstance(name, str) or not 1 <= len(name) <= 64:
                    return self.err(400, "invalid_request", "name: 1-64 characters")
                d = {"id": "tok_" + secrets.token_hex(6), "name": name, "created": now()}
                if body.get("expiresAt"):
                    d["expiresAt"] = body["expiresAt"]
                secret = "scim_" + secrets.token_urlsafe(24)
                STATE.tokens[secret] = (tid, d)
                return self.send(201, {**d, "token": secret, "tenantUrl": v["tenantUrl"]})
            if len(parts) == 4 and parts[2] == "tokens" and method == "DELETE":
                for s, (ten, d) in list(STATE.tokens.items()):
                    if ten == tid and d["id"] == parts[3]:
                        del STATE.tokens[s]
                        return self.send(204)
                return self.err(404, "not_found", "no such token")
            if parts[2:] == ["health"] and method == "GET":
                users = t["users"]
                active = len([u for u in users if u.get("active", True)])
                h = {"tenant": tid, "users": {"total": len(users), "active": active, "inactive": len(users) - active},
                     "groups": 0, "memberships": 0,
                     "requests": {"lastHour": 1 if tid in STATE.requests else 0, "lastDay": 1 if tid in STATE.requests else 0},
                     "errors": {"lastHour": {"total": 0, "byStatus": {}}, "lastDay": {"total": 0, "byStatus": {}}},
                     "tokens": []}
                if tid in STATE.requests:
                    h["lastRequest"] = STATE.requests[tid]
                return self.send(200, h)
        return self.err(404, "not_found", "no such management route")


def main():
    global STATE
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1:8099")
    args = ap.parse_args()
    host, port = args.addr.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    origin = f"http://{host}:{server.server_address[1]}"
    STATE = State(origin)
    create("default")
    secret = "scim_" + secrets.token_urlsafe(24)
    STATE.tokens[secret] = ("default", {"id": "tok_default0001", "name": "local", "created": now()})
    print(f"SCIM service listening on {origin}")
    print(f"Tenant URL: {origin}/scim/v2/default")
    print(f"Token:      {secret}")
    print(f"Operator:   {STATE.operator_key}")
    print(f"Console:    {origin}/console/login?key={STATE.login}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
