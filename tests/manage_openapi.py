#!/usr/bin/env python3
"""Keeps src/api/manage/openapi.json true: a scripted walk of the management
API of a real scim-local (started here on a free loopback port) that sends
every documented operation with valid data and the contract's errors, and
validates EVERY response against the document itself: its status is one the
operation documents (a 405 or an unknown route: the document's components),
its headers the documented required ones, its body the documented schema
(jsonschema, draft 2020-12, formats checked). Request bodies are checked too:
those sent as valid must be valid under the document, those sent to provoke
`invalid_request` must not be (so the document and the server's validation
agree both ways).

It fails if an operation of the document was never answered with a 2xx.

    python3 tests/manage_openapi.py target/debug/scim-local

Prints one line at the end, "openapi: N passed, N failed", and exits non-zero
on a failure. Needs jsonschema (the test venv of tests/run.sh).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_PATH = Path(__file__).resolve().parent.parent / "src" / "api" / "manage" / "openapi.json"
DOC_TEXT = DOC_PATH.read_text()
DOC = json.loads(DOC_TEXT)
DOC_URI = "urn:scim:manage-openapi"
REGISTRY = Registry().with_resource(DOC_URI, Resource.from_contents(DOC, default_specification=DRAFT202012))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

FORMATS = jsonschema.FormatChecker(formats=())
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@FORMATS.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    if isinstance(value, str) and not (urlsplit(value).scheme and urlsplit(value).netloc):
        raise ValueError(f"not an absolute URI: {value!r}")
    return True


def resolve(obj: dict) -> dict:
    """An object of the document with its (local) $ref followed."""
    while "$ref" in obj:
        node: object = DOC
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]  # type: ignore[index]
        obj = node  # type: ignore[assignment]
    return obj


def schema_errors(schema: dict, instance: object) -> list[str]:
    """Why `instance` is not valid under `schema` (a schema of the document)."""
    if "$ref" in schema and schema["$ref"].startswith("#"):
        schema = {"$ref": DOC_URI + schema["$ref"]}
    validator = jsonschema.Draft202012Validator(schema, registry=REGISTRY, format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


ROUTES = [(template_regex(p), p, item) for p, item in DOC["paths"].items()]
OPERATIONS = {
    op["operationId"]: (method.upper(), path)
    for path, item in DOC["paths"].items()
    for method, op in item.items()
    if method in METHODS
}


def operation_of(method: str, path: str) -> tuple[str | None, dict | None, bool]:
    """(operationId, operation, whether the path is a documented route)."""
    for regex, _, item in ROUTES:
        if regex.match(path):
            op = item.get(method.lower())
            return (op["operationId"], op, True) if op else (None, None, True)
    return None, None, False


class Failure(Exception):
    pass


class Walk:
    def __init__(self, port: int, key: str, scim_token: str) -> None:
        self.port = port
        self.key = key
        self.scim_token = scim_token
        self.passed = 0
        self.failed = 0
        self.succeeded: set[str] = set()
        self.problems: list[str] = []
        self.login_link = ""

    # ------------------------------------------------------------ transport

    def send(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        auth: str | None = "key",
        host: str | None = None,
        extra: dict[str, str] | None = None,
        request_valid: bool | None = None,
    ) -> tuple[int, dict[str, str], bytes, object]:
        """Sends one request and checks its answer against the document.

        `body` is sent as JSON (`raw` as given); `auth` is "key", "scim", a
        literal Authorization value, or None; `request_valid` says whether
        the body is meant to be valid under the operation's request schema
        (checked when not None). Returns status, headers (lower-cased names),
        raw body and decoded JSON (None when not JSON)."""
        query_free = path.split("?", 1)[0]
        op_id, op, known = operation_of(method, query_free)
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if request_valid is not None and body is not None and op is not None:
            schema = resolve(op["requestBody"])["content"]["application/json"]["schema"]
            errors = schema_errors(schema, body)
            if request_valid and errors:
                raise Failure(f"the request body {body!r} is sent as valid but the document refuses it: {errors}")
            if not request_valid and not errors:
                raise Failure(f"the request body {body!r} is sent as invalid but the document accepts it")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host or f"127.0.0.1:{self.port}")
            conn.putheader("Accept", "application/json")
            if auth == "key":
                conn.putheader("Authorization", f"Bearer {self.key}")
            elif auth == "scim":
                conn.putheader("Authorization", f"Bearer {self.scim_token}")
            elif auth is not None:
                conn.putheader("Authorization", auth)
            for name, value in (extra or {}).items():
                conn.putheader(name, value)
            if data is not None:
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            response = conn.getresponse()
            content = response.read()
            status = response.status
            headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        decoded = self.check_answer(method, query_free, op_id, op, known, status, headers, content)
        if op_id is not None and 200 <= status < 300:
            self.succeeded.add(op_id)
        return status, headers, content, decoded

    def check_answer(self, method, path, op_id, op, known, status, headers, content) -> object:
        where = f"{method} {path} -> {status}"
        if op is not None:
            responses = op["responses"]
            spec = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
            if spec is None:
                raise Failure(f"{where}: status not documented for {op_id} (documented: {', '.join(responses)}); body {content[:300]!r}")
        elif known:
            spec = DOC["components"]["responses"]["MethodNotAllowed"]
            if status != 405:
                raise Failure(f"{where}: an undocumented method on a known route must be 405; body {content[:300]!r}")
        else:
            spec = DOC["components"]["responses"]["NotFound"]
            if status != 404:
                raise Failure(f"{where}: an unknown route must be 404; body {content[:300]!r}")
        spec = resolve(spec)
        for name, header in spec.get("headers", {}).items():
            header = resolve(header)
            if header.get("required") and name.lower() not in headers:
                raise Failure(f"{where}: required header {name} missing (headers: {headers})")
            if name.lower() in headers and "schema" in header:
                errors = schema_errors(header["schema"], headers[name.lower()])
                if errors:
                    raise Failure(f"{where}: header {name}: {errors}")
        content_spec = spec.get("content")
        if not content_spec:
            if content:
                raise Failure(f"{where}: the document says no body, got {content[:300]!r}")
            return None
        media = headers.get("content-type", "").split(";")[0].strip()
        if media not in content_spec:
            raise Failure(f"{where}: content type {media!r} is not documented ({', '.join(content_spec)}); body {content[:300]!r}")
        try:
            decoded = json.loads(content)
        except ValueError as e:
            raise Failure(f"{where}: body is not JSON ({e}): {content[:300]!r}") from None
        errors = schema_errors(content_spec[media]["schema"], decoded)
        if errors:
            raise Failure(f"{where}: body does not match the document: {errors}; body {content[:500]!r}")
        return decoded

    # ------------------------------------------------------------ checks

    def check(self, title: str, fn) -> None:
        try:
            fn()
        except Failure as e:
            self.failed += 1
            self.problems.append(f"{title}: {e}")
            print(f"FAIL {title}: {e}")
        except Exception as e:  # a bug of the walk itself counts as a failure too
            self.failed += 1
            self.problems.append(f"{title}: {e!r}")
            print(f"FAIL {title}: {e!r}")
            traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok   {title}")


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise Failure(message)


def expect_error(answer, status: int, code: str) -> None:
    got_status, _, content, body = answer
    expect(got_status == status, f"expected {status} {code}, got {got_status}: {content[:300]!r}")
    expect(isinstance(body, dict) and body.get("code") == code, f"expected code {code}, got {body!r}")


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = sys.argv[1]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    key = "scimop_walk_" + secrets.token_hex(16)
    events_file = os.path.join(tempfile.mkdtemp(), "events.jsonl")
    scim_token = "scim_walk_" + secrets.token_hex(16)
    server = subprocess.Popen(
        [binary, "--addr", f"127.0.0.1:{port}", "--operator-key", key, "--token", scim_token,
         "--delete-wait-secs", "2", "--log-format", "json", "--events", events_file],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    walk = Walk(port, key, scim_token)
    try:
        banner = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            banner.append(line.rstrip())
            if line.startswith("Console:"):
                break
        if not any(line.startswith("Operator:   " + key) for line in banner):
            print("\n".join(banner))
            raise SystemExit("scim-local did not print its operator key")
        walk.login_link = next(line.split()[1] for line in banner if line.startswith("Console:"))
        run(walk)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    for op_id in sorted(set(OPERATIONS) - walk.succeeded):
        walk.failed += 1
        method, path = OPERATIONS[op_id]
        print(f"FAIL operation {op_id} ({method} {path}) of the document was never answered with a 2xx")
    if walk.problems:
        print("\nFailures:")
        for p in walk.problems:
            print(f"  - {p}")
    print(f"openapi: {walk.passed} passed, {walk.failed} failed")
    return 1 if walk.failed else 0


def run(w: Walk) -> None:
    M = "/manage/v1"
    now = datetime.now(timezone.utc)
    state: dict[str, object] = {}

    def document():
        status, headers, content, body = w.send("GET", f"{M}/openapi.json")
        expect(status == 200, f"got {status}")
        expect(body == DOC, "the served document is not src/api/manage/openapi.json")

    w.check("GET openapi.json answers this document", document)

    # ---------------------------------------------------------- tenants
    def create():
        status, headers, _, body = w.send(
            "POST", f"{M}/tenants", {"id": "oa-acme", "displayName": "Acme Corp"}, request_valid=True)
        expect(status == 201, f"got {status}")
        expect(headers.get("location") == f"{M}/tenants/oa-acme", f"Location {headers.get('location')!r}")
        expect(body["id"] == "oa-acme" and body["displayName"] == "Acme Corp", f"{body}")
        expect(body["status"] == "active" and body["tokenCount"] == 0 and "deletion" not in body, f"{body}")
        expect("created" in body and body.get("tenantUrl", "").endswith("/scim/v2/oa-acme"), f"{body}")

    w.check("POST tenants: 201, Location, active, no tokens", create)

    def create_more():
        for body in ({"id": "oa-beta"}, {"id": "oa-gamma", "displayName": None},
                     {"id": "oa-d", "displayName": "  Delta  "}):
            status, _, _, got = w.send("POST", f"{M}/tenants", body, request_valid=True)
            expect(status == 201, f"{body}: got {status} {got}")
        expect(got.get("displayName") == "Delta", f"a display name is stored trimmed: {got}")

    w.check("POST tenants without displayName, with null, with one to trim: 201", create_more)

    w.check("POST tenants duplicate: 409 conflict", lambda: expect_error(
        w.send("POST", f"{M}/tenants", {"id": "oa-acme"}, request_valid=True), 409, "conflict"))

    def bad_json():
        for raw in (b"not json", b"[1]", b'"oa-x"', b""):
            expect_error(w.send("POST", f"{M}/tenants", raw=raw), 400, "invalid_json")

    w.check("POST tenants not JSON or not an object: 400 invalid_json", bad_json)

    def bad_tenant():
        for body in ({"id": "Bad_Id"}, {"id": "-oa"}, {"id": "x" * 64}, {}, {"id": 5},
                     {"id": "oa-x", "extra": 1}, {"id": "oa-x", "displayName": "x" * 257},
                     {"id": "oa-x", "displayName": "   "}, {"id": "oa-x", "displayName": "a\u0007b"}):
            expect_error(w.send("POST", f"{M}/tenants", body, request_valid=False), 400, "invalid_request")

    w.check("POST tenants with a bad field: 400 invalid_request", bad_tenant)

    def paging():
        seen, cursor, pages = [], None, 0
        while True:
            query = {"prefix": "oa-", "limit": 2, **({"cursor": cursor} if cursor else {})}
            status, _, _, body = w.send("GET", f"{M}/tenants?{urlencode(query)}")
            expect(status == 200, f"got {status}")
            expect(len(body["tenants"]) <= 2, f"limit 2 gave {len(body['tenants'])}")
            seen += [t["id"] for t in body["tenants"]]
            pages += 1
            cursor = body.get("nextCursor")
            if not cursor:
                break
            expect(pages < 10, "paging does not end")
        expect(seen == ["oa-acme", "oa-beta", "oa-d", "oa-gamma"], f"pages listed {seen}")
        expect(pages == 2, f"{pages} pages of 2 for 4 tenants")
        status, _, _, body = w.send("GET", f"{M}/tenants")
        expect(status == 200 and "default" in [t["id"] for t in body["tenants"]], f"{status} {body}")
        expect("nextCursor" not in body, f"a single page has no nextCursor: {body}")
        status, _, _, body = w.send("GET", f"{M}/tenants?prefix=zz-none")
        expect(status == 200 and body == {"tenants": []}, f"{status} {body}")

    w.check("GET tenants: pages by cursor with a prefix, default page, empty prefix", paging)

    def bad_limit():
        for limit in ("0", "201", "abc", "-1", "1.5"):
            expect_error(w.send("GET", f"{M}/tenants?limit={limit}"), 400, "invalid_request")

    w.check("GET tenants?limit out of range or not a number: 400 invalid_request", bad_limit)

    def get_tenant():
        status, _, _, body = w.send("GET", f"{M}/tenants/oa-acme")
        expect(status == 200 and body["id"] == "oa-acme" and body["status"] == "active", f"{status} {body}")

    w.check("GET tenant: 200", get_tenant)

    def unknown_tenant():
        for path in ("/tenants/oa-nope", "/tenants/Bad_Id", "/tenants/oa-nope/tokens", "/tenants/oa-nope/health"):
            expect_error(w.send("GET", M + path), 404, "not_found")
        expect_error(w.send("DELETE", f"{M}/tenants/oa-nope"), 404, "not_found")
        expect_error(w.send("POST", f"{M}/tenants/oa-nope/tokens", {"name": "x"}, request_valid=True), 404, "not_found")
        expect_error(w.send("DELETE", f"{M}/tenants/oa-nope/tokens/tok_000000000000"), 404, "not_found")

    w.check("unknown tenant on every route: 404 not_found", unknown_tenant)

    # ---------------------------------------------------------- tokens
    def issue():
        status, _, _, body = w.send("POST", f"{M}/tenants/oa-acme/tokens", {"name": "entra"}, request_valid=True)
        expect(status == 201, f"got {status} {body}")
        expect(re.fullmatch(r"tok_[0-9a-f]{12}", body["id"]) is not None, f"token id {body['id']!r}")
        expect(body["name"] == "entra" and "expiresAt" not in body, f"{body}")
        expect(body.get("tenantUrl", "").endswith("/scim/v2/oa-acme"), f"{body}")
        state["entra"] = body
        later = now.replace(microsecond=0) + timedelta(days=200)
        offset = later.astimezone(timezone(timedelta(hours=2))).isoformat()
        status, _, _, body = w.send(
            "POST", f"{M}/tenants/oa-acme/tokens", {"name": "okta", "expiresAt": offset}, request_valid=True)
        expect(status == 201, f"got {status} {body}")
        expect(body["expiresAt"] == iso(later), f"expiresAt {offset} shown as {body.get('expiresAt')!r}, not in UTC")
        state["okta"] = body

    w.check("POST tokens without and with expiresAt (shown in UTC): 201, the secret once", issue)

    def bad_token():
        for body in ({"name": "x", "expiresAt": iso(now - timedelta(days=1))},):
            expect_error(w.send("POST", f"{M}/tenants/oa-acme/tokens", body, request_valid=True), 400, "invalid_request")
        for body in ({"name": "x", "expiresAt": "tomorrow"}, {"name": ""}, {"name": "   "}, {}, {"name": 5},
                     {"name": "x" * 65}, {"name": "x", "scope": "all"}):
            expect_error(w.send("POST", f"{M}/tenants/oa-acme/tokens", body, request_valid=False), 400, "invalid_request")
        expect_error(w.send("POST", f"{M}/tenants/oa-acme/tokens", raw=b"{"), 400, "invalid_json")

    w.check("POST tokens past expiry, bad fields: 400 invalid_request; not JSON: 400 invalid_json", bad_token)

    def list_tokens():
        status, _, _, body = w.send("GET", f"{M}/tenants/oa-acme/tokens")
        expect(status == 200, f"got {status}")
        ids = [t["id"] for t in body["tokens"]]
        expect(ids == [state["entra"]["id"], state["okta"]["id"]], f"listed {ids}")
        expect(all("lastUsed" not in t for t in body["tokens"]), f"never used, yet {body}")
        expect(state["entra"]["token"] not in json.dumps(body), "the secret is listed")

    w.check("GET tokens: metadata only, no lastUsed before use", list_tokens)

    def health():
        secret = state["entra"]["token"]
        conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=30)
        conn.request("GET", "/scim/v2/oa-acme/Users", headers={"Authorization": f"Bearer {secret}"})
        scim = conn.getresponse()
        scim.read()
        conn.close()
        expect(scim.status == 200, f"the issued token is refused by SCIM: {scim.status}")
        body = None
        for _ in range(50):
            status, _, _, body = w.send("GET", f"{M}/tenants/oa-acme/health")
            expect(status == 200, f"got {status}")
            if "lastRequest" in body:
                break
            time.sleep(0.1)
        expect(body is not None and "lastRequest" in body, f"no lastRequest after a SCIM request: {body}")
        expect(body["tenant"] == "oa-acme" and body["requests"]["lastHour"] >= 1, f"{body}")
        used = {t["id"]: t.get("lastUsed") for t in body["tokens"]}
        expect(used.get(state["entra"]["id"]) is not None, f"the used token has no lastUsed: {body['tokens']}")
        status, _, _, body = w.send("GET", f"{M}/tenants/oa-beta/health")
        expect(status == 200 and "lastRequest" not in body, f"never called, yet {body}")
        status, _, _, tokens = w.send("GET", f"{M}/tenants/oa-acme/tokens")
        expect(any(t.get("lastUsed") for t in tokens["tokens"]), f"lastUsed not listed: {tokens}")

    w.check("GET health: 200; after a SCIM request lastRequest and lastUsed", health)

    def request_log():
        page = None
        for _ in range(50):
            status, _, _, page = w.send("GET", f"{M}/tenants/oa-acme/requests")
            expect(status == 200, f"got {status}")
            if page["requests"]:
                break
            time.sleep(0.1)
        listed = [r for r in page["requests"] if r["path"] == "/scim/v2/oa-acme/Users"]
        expect(listed and listed[0]["action"] == "list" and listed[0]["status"] == 200, f"{page}")
        expect(listed[0]["tokenId"] == state["entra"]["id"], f"not the token's id: {listed[0]}")
        rid = listed[0]["requestId"]
        quoted = urllib.parse.quote(rid, safe="")
        status, _, _, one = w.send("GET", f"{M}/tenants/oa-acme/requests/{quoted}")
        expect(status == 200 and one == listed[0], f"{status} {one}")
        status, _, _, page = w.send("GET", f"{M}/tenants/oa-acme/requests?status=2xx&action=list&limit=1")
        expect(status == 200 and len(page["requests"]) == 1, f"{status} {page}")
        status, _, _, page = w.send("GET", f"{M}/tenants/oa-acme/requests?status=5xx")
        expect(status == 200 and page["requests"] == [], f"{status} {page}")
        # Another tenant's request is not found under this one.
        expect_error(w.send("GET", f"{M}/tenants/oa-beta/requests/{quoted}"), 404, "not_found")
        for bad in ["status=6xx", "limit=0", "from=yesterday", "minDurationMs=-1", "sort=time"]:
            expect_error(w.send("GET", f"{M}/tenants/oa-acme/requests?{bad}"), 400, "invalid_request")

    w.check("GET requests: the SCIM request recorded, one by its id, filters; another tenant's 404; bad filters 400", request_log)

    def scim_rejects_operator_key():
        status = _scim_status(w, "/scim/v2/oa-acme/Users", w.key)
        expect(status == 401, f"the operator key on a SCIM route got {status}")

    w.check("the operator key is refused on SCIM routes (401)", scim_rejects_operator_key)

    def too_many():
        for count in range(20):
            status, _, _, body = w.send("POST", f"{M}/tenants/oa-d/tokens", {"name": f"t{count}"}, request_valid=True)
            expect(status == 201, f"token {count + 1}: {status} {body}")
        expect_error(w.send("POST", f"{M}/tenants/oa-d/tokens", {"name": "one-too-many"}, request_valid=True),
                     400, "invalid_request")
        status, _, _, body = w.send("GET", f"{M}/tenants/oa-d")
        expect(status == 200 and body["tokenCount"] == 20, f"{body}")

    w.check("POST tokens: the 21st active token is 400 invalid_request", too_many)

    # ---------------------------------------------------------- auth, Host, routes, sizes
    def unauthorized():
        for auth in (None, "scim", "Bearer wrong-key", f"Basic {w.key}"):
            for method, path in (("GET", "/tenants"), ("POST", "/tenants"), ("GET", "/tenants/oa-acme/health"),
                                 ("DELETE", "/tenants/oa-acme"), ("GET", "/openapi.json")):
                body = {"id": "oa-unauth"} if method == "POST" else None
                answer = w.send(method, M + path, body, auth=auth)
                expect_error(answer, 401, "unauthorized")
                expect(answer[1].get("www-authenticate", "").startswith("Bearer"), f"{answer[1]}")

    w.check("no key, a SCIM tenant token, a wrong key: 401 unauthorized on every route", unauthorized)

    def scim_token_of_tenant():
        expect_error(w.send("GET", f"{M}/tenants/oa-acme", auth=f"Bearer {state['entra']['token']}"), 401, "unauthorized")

    w.check("an issued tenant token on /manage/v1: 401", scim_token_of_tenant)

    def foreign_host():
        for method, path in (("GET", "/tenants"), ("POST", "/tenants/oa-acme/tokens"), ("GET", "/openapi.json")):
            body = {"name": "x"} if method == "POST" else None
            expect_error(w.send(method, M + path, body, host="evil.example"), 403, "forbidden")

    w.check("a foreign Host (DNS rebinding): 403 forbidden", foreign_host)

    def console_session():
        link = urlsplit(w.login_link)
        conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=30)
        conn.request("GET", f"{link.path}?{link.query}")
        login = conn.getresponse()
        login.read()
        cookie = (login.getheader("Set-Cookie") or "").split(";")[0]
        conn.request("GET", "/console", headers={"Cookie": cookie})
        page = conn.getresponse().read().decode()
        conn.close()
        expect(login.status == 303 and cookie.startswith("scim_console="), f"login: {login.status} {cookie!r}")
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        expect(found is not None, "no csrf-token meta on the console page")
        session = {"Cookie": cookie}
        status, _, _, body = w.send("GET", f"{M}/tenants/oa-acme", auth=None, extra=session)
        expect(status == 200, f"a console session GET: {status} {body}")
        body = {"id": "oa-console"}
        expect_error(w.send("POST", f"{M}/tenants", body, auth=None, extra=session, request_valid=True), 403, "forbidden")
        expect_error(w.send("POST", f"{M}/tenants", body, auth=None, request_valid=True,
                            extra={**session, "X-CSRF-Token": "wrong"}), 403, "forbidden")
        status, _, _, got = w.send("POST", f"{M}/tenants", body, auth=None, request_valid=True,
                                   extra={**session, "X-CSRF-Token": found.group(1)})
        expect(status == 201, f"a console POST with its CSRF header: {status} {got}")
        status, _, _, got = w.send("DELETE", f"{M}/tenants/oa-console", auth=None,
                                   extra={**session, "X-CSRF-Token": found.group(1)})
        expect(status == 202, f"a console DELETE with its CSRF header: {status} {got}")

    w.check("console session: GET 200; POST without or with a wrong X-CSRF-Token 403 forbidden, with it 201", console_session)

    def not_allowed():
        for method, path, allow in (("PUT", "/tenants", "GET, POST"), ("PATCH", "/tenants/oa-acme", "GET, DELETE"),
                                    ("GET", "/tenants/oa-acme/tokens/tok_000000000000", "DELETE"),
                                    ("POST", "/tenants/oa-acme/health", "GET"), ("DELETE", "/openapi.json", "GET"),
                                    ("DELETE", "/tenants/oa-acme/tokens", "GET, POST")):
            answer = w.send(method, M + path, {} if method in ("PUT", "PATCH", "POST") else None)
            expect_error(answer, 405, "method_not_allowed")
            expect(answer[1].get("allow") == allow, f"{method} {path}: Allow {answer[1].get('allow')!r}, not {allow!r}")

    w.check("a known route with another method: 405 with Allow", not_allowed)

    def unknown_route():
        for path in ("", "/", "/nope", "/tenants/oa-acme/other", "/tenants/oa-acme/tokens/tok_000000000000/x"):
            expect_error(w.send("GET", M + path), 404, "not_found")

    w.check("an unknown route under /manage/v1: 404 not_found", unknown_route)

    def too_large():
        big = json.dumps({"id": "oa-big", "displayName": "x" * (70 * 1024)}).encode()
        expect_error(w.send("POST", f"{M}/tenants", raw=big), 413, "payload_too_large")

    w.check("a body over 64 KiB: 413 payload_too_large", too_large)

    def far_too_large():
        big = json.dumps({"name": "x" * (5 * 1024 * 1024)}).encode()
        expect_error(w.send("POST", f"{M}/tenants/oa-acme/tokens", raw=big), 413, "payload_too_large")

    w.check("a body over 4 MiB (the SCIM limit): 413 payload_too_large", far_too_large)

    # ---------------------------------------------------------- revoke, delete
    def revoke():
        okta = state["okta"]["id"]
        status, headers, content, _ = w.send("DELETE", f"{M}/tenants/oa-acme/tokens/{okta}")
        expect(status == 204 and content == b"", f"got {status} {content!r}")
        expect_error(w.send("DELETE", f"{M}/tenants/oa-acme/tokens/{okta}"), 404, "not_found")
        expect_error(w.send("DELETE", f"{M}/tenants/oa-acme/tokens/tok_000000000000"), 404, "not_found")
        status, _, _, body = w.send("GET", f"{M}/tenants/oa-acme/tokens")
        expect([t["id"] for t in body["tokens"]] == [state["entra"]["id"]], f"{body}")

    w.check("DELETE token: 204, then 404; unknown token 404", revoke)

    def delete():
        status, _, _, body = w.send("DELETE", f"{M}/tenants/oa-beta")
        expect(status == 202 and body["status"] == "deleting", f"{status} {body}")
        expect(body["deletion"]["phase"] == "waiting" and body["tokenCount"] == 0, f"{body}")
        requested = body["deletion"]["requested"]
        status, _, _, body = w.send("GET", f"{M}/tenants/oa-beta")
        expect(status == 200 and body["status"] == "deleting", f"{status} {body}")
        status, _, _, body = w.send("DELETE", f"{M}/tenants/oa-beta")
        expect(status == 202 and body["deletion"]["requested"] == requested, f"repeated: {status} {body}")
        expect_error(w.send("POST", f"{M}/tenants", {"id": "oa-beta"}, request_valid=True), 409, "conflict")
        expect_error(w.send("POST", f"{M}/tenants/oa-beta/tokens", {"name": "x"}, request_valid=True), 409, "conflict")
        status, _, _, body = w.send("GET", f"{M}/tenants?prefix=oa-beta")
        expect(status == 200 and [t["status"] for t in body["tenants"]] == ["deleting"], f"{body}")
        phases = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, _, _, body = w.send("GET", f"{M}/tenants/oa-beta")
            if status == 404:
                break
            phases.add(body["deletion"]["phase"])
            time.sleep(0.2)
        expect(status == 404, f"still there after 30 s: {body}")
        expect_error(w.send("GET", f"{M}/tenants/oa-beta/health"), 404, "not_found")
        status, _, _, body = w.send("POST", f"{M}/tenants", {"id": "oa-beta"}, request_valid=True)
        expect(status == 201, f"not created again after the purge: {status} {body}")

    w.check("DELETE tenant: 202 deleting (waiting), repeated 202, 409 meanwhile, then 404 and re-creatable", delete)

    def revoke_while_deleting():
        status, _, _, body = w.send("POST", f"{M}/tenants/oa-gamma/tokens", {"name": "x"}, request_valid=True)
        expect(status == 201, f"{status} {body}")
        status, _, _, _ = w.send("DELETE", f"{M}/tenants/oa-gamma")
        expect(status == 202, f"{status}")
        expect_error(w.send("DELETE", f"{M}/tenants/oa-gamma/tokens/{body['id']}"), 409, "conflict")

    w.check("DELETE token of a tenant being deleted: 409 conflict", revoke_while_deleting)

    def settings():
        status, headers, _, body = w.send("GET", f"{M}/tenants/oa-acme/settings")
        expect(status == 200 and body["version"] == 0 and headers.get("etag") == 'W/"0"', f"{status} {headers} {body}")
        expect(body["settings"]["breaker"] == {"enabled": True, "threshold": 20, "percent": 10, "windowMinutes": 60}, f"{body}")
        status, headers, _, body = w.send(
            "PATCH", f"{M}/tenants/oa-acme/settings", {"idp": "okta", "breaker": {"threshold": 5}},
            extra={"If-Match": 'W/"0"'}, request_valid=True)
        expect(status == 200 and body["version"] == 1 and headers.get("etag") == 'W/"1"', f"{status} {body}")
        expect(body["effective"] == {"membersReplace": "rfc", "groupPutWithoutMembers": "keep"}, f"{body}")
        expect(body["history"][0]["by"] == "operator-key" and body["history"][0]["changed"] == ["breaker.threshold", "idp"], f"{body}")
        expect_error(w.send("PATCH", f"{M}/tenants/oa-acme/settings", {"idp": "entra"},
                            extra={"If-Match": 'W/"0"'}, request_valid=True), 412, "precondition_failed")
        expect_error(w.send("PATCH", f"{M}/tenants/oa-acme/settings", {"breaker": {"percent": 300}},
                            request_valid=False), 400, "invalid_request")
        expect_error(w.send("PATCH", f"{M}/tenants/oa-acme/settings", {"idp": "azure"},
                            request_valid=False), 400, "invalid_request")
        status, _, _, body = w.send("PATCH", f"{M}/tenants/oa-acme/settings", {"idp": None, "breaker": {"threshold": None}},
                                    request_valid=True)
        expect(status == 200 and body["settings"]["idp"] == "rfc" and body["settings"]["breaker"]["threshold"] == 20,
               f"null puts idp and threshold back to their defaults: {status} {body}")
        expect_error(w.send("GET", f"{M}/tenants/oa-nobody/settings"), 404, "not_found")

    w.check("settings: GET with ETag; PATCH merge with If-Match, history by whom; 412 stale; 400 invalid; 404", settings)

    def breaker():
        tenant = "default"
        status, _, _, body = w.send("GET", f"{M}/tenants/{tenant}/breaker")
        expect(status == 200 and body["state"] == "armed" and body["windowCount"] == 0, f"{status} {body}")
        expect_error(w.send("POST", f"{M}/tenants/{tenant}/breaker/release", {}, request_valid=True), 409, "conflict")
        status, _, _, _ = w.send("PATCH", f"{M}/tenants/{tenant}/settings",
                                 {"breaker": {"threshold": 1, "percent": 0}}, request_valid=True)
        expect(status == 200, f"{status}")

        def trip(n: int) -> None:
            for i in range(n):
                user = _scim(w, "POST", f"/scim/v2/{tenant}/Users", {"userName": f"walk-{secrets.token_hex(6)}@example.com"})
                _scim(w, "DELETE", f"/scim/v2/{tenant}/Users/{user['id']}", None)
            for _ in range(100):
                status, _, _, body = w.send("GET", f"{M}/tenants/{tenant}/breaker")
                if body["state"] == "tripped":
                    return
                time.sleep(0.1)
            raise Failure(f"never tripped: {body}")

        trip(3)
        status, _, _, body = w.send("GET", f"{M}/tenants/{tenant}/breaker")
        expect(body["trip"]["held"] >= 2 and body["trip"]["heldByType"].get("user.deleted", 0) >= 1, f"{body}")
        status, _, _, page = w.send("GET", f"{M}/tenants/{tenant}/breaker/held?limit=1")
        expect(status == 200 and len(page["events"]) == 1 and "nextCursor" in page, f"{status} {page}")
        status, _, _, rest = w.send("GET", f"{M}/tenants/{tenant}/breaker/held?limit=200&cursor={page['nextCursor']}&type=user.deleted")
        expect(status == 200 and all(e["detailType"] == "user.deleted" for e in rest["events"]), f"{rest}")
        for bad in ["limit=0", "limit=201", "cursor=x"]:
            expect_error(w.send("GET", f"{M}/tenants/{tenant}/breaker/held?{bad}"), 400, "invalid_request")
        expect_error(w.send("POST", f"{M}/tenants/{tenant}/breaker/discard", {}, request_valid=False), 400, "invalid_request")
        expect_error(w.send("POST", f"{M}/tenants/{tenant}/breaker/discard", {"reason": "  "}, request_valid=False), 400, "invalid_request")
        expect_error(w.send("POST", f"{M}/tenants/{tenant}/breaker/discard", {"reason": "\u0085\u3000"}, request_valid=False), 400, "invalid_request")
        status, _, _, body = w.send("POST", f"{M}/tenants/{tenant}/breaker/release", {"reason": "checked"}, request_valid=True)
        expect(status == 202 and body["state"] in ("releasing", "armed"), f"{status} {body}")
        for _ in range(100):
            status, _, _, body = w.send("GET", f"{M}/tenants/{tenant}/breaker")
            if body["state"] == "armed":
                break
            time.sleep(0.1)
        expect(body["state"] == "armed" and body["resolved"][0]["resolution"]["action"] == "release", f"{body}")
        trip(2)
        status, _, _, body = w.send("POST", f"{M}/tenants/{tenant}/breaker/discard", {"reason": "wrong scoping rule"}, request_valid=True)
        expect(status == 202, f"{status} {body}")
        for _ in range(100):
            status, _, _, body = w.send("GET", f"{M}/tenants/{tenant}/breaker")
            if body["state"] == "armed":
                break
            time.sleep(0.1)
        resolution = body["resolved"][0]["resolution"]
        expect(body["state"] == "armed" and resolution["action"] == "discard"
               and resolution["reason"] == "wrong scoping rule" and resolution["by"] == "operator-key", f"{body}")
        status, _, _, _ = w.send("PATCH", f"{M}/tenants/{tenant}/settings", {"breaker": {"threshold": 20, "percent": 10}})
        expect(status == 200, f"{status}")

    w.check("breaker: armed; trips past the threshold; held pages; release and discard (a reason required) re-arm; 409 when armed", breaker)


def _scim(w: Walk, method: str, path: str, body: object) -> dict:
    """A SCIM request with the walk's tenant token; its JSON (or {})."""
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=30)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {w.scim_token}", "Content-Type": "application/scim+json"}
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    content = response.read()
    conn.close()
    if response.status >= 300:
        raise Failure(f"SCIM {method} {path}: {response.status} {content!r}")
    return json.loads(content) if content else {}


def _scim_status(w: Walk, path: str, token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
