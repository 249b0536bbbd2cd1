#!/usr/bin/env python3
"""Writes events/manage-*.json and events/recorder-subscription.json: the
management API's HTTP API events (payload 2.0, IAM-authorized as API
Gateway passes them on), the purge schedule's EventBridge event, and a
CloudWatch Logs subscription batch for the recorder. Deterministic: run it
again after changing a fixture here, and commit what it writes.

    python3 events/manage-fixtures.py
"""

import base64
import gzip
import json
import pathlib

EVENTS = pathlib.Path(__file__).resolve().parent
HOST = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
ACCOUNT = "123456789012"
CALLER = f"arn:aws:iam::{ACCOUNT}:role/vendor-backend"
TIME_EPOCH = 1795348813000
TOKEN_ID = "tok_EXAMPLE"


def iam():
    """requestContext.authorizer of a SigV4-signed request."""
    return {
        "iam": {
            "accessKey": "ASIAEXAMPLEEXAMPLE00",
            "accountId": ACCOUNT,
            "callerId": "AROAEXAMPLEEXAMPLE000:vendor-backend",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"{CALLER}",
            "userId": "AROAEXAMPLEEXAMPLE000:vendor-backend",
        }
    }


def http_event(method, path, query="", body=None, authorizer=None, request_id="Mg01AAAAoEEMpg="):
    raw_path = "/prod/manage/v1" + path
    headers = {
        "accept": "application/json",
        "host": HOST,
        "user-agent": "vendor-backend/1.0",
        "x-amz-date": "20261122T120013Z",
        "x-amzn-trace-id": "Root=1-6b02d94d-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    text = None
    if body is not None:
        text = json.dumps(body)
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(text.encode()))
    context = {
        "accountId": ACCOUNT,
        "apiId": "a1b2c3d4e5",
        "domainName": HOST,
        "domainPrefix": "a1b2c3d4e5",
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.10",
            "userAgent": "vendor-backend/1.0",
        },
        "requestId": request_id,
        "routeKey": "ANY /manage/v1/{proxy+}",
        "stage": "prod",
        "time": "22/Nov/2026:12:00:13 +0000",
        "timeEpoch": TIME_EPOCH,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event = {
        "version": "2.0",
        "routeKey": "ANY /manage/v1/{proxy+}",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": context,
        "pathParameters": {"proxy": path.lstrip("/")},
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(kv.split("=", 1) for kv in query.split("&"))
    if text is not None:
        event["body"] = text
    return event


def record(request_id, method, path, status, action, token_id, **extra):
    fields = {
        "time": "2026-11-22T12:00:13.000Z",
        "tenant": "acme",
        "requestId": request_id,
        "tokenId": token_id,
        "userAgent": "Azure AD SCIM Provisioning",
        "method": method,
        "path": path,
        "status": status,
        "durationMs": 23,
        "action": action,
    }
    fields.update(extra)
    return json.dumps({"type": "scim.request", "record": fields})


def subscription_event():
    """What CloudWatch Logs hands a subscribed function: the batch as JSON,
    gzipped, base64-encoded."""
    lines = [
        record("Us01AAAAoEEMpg=", "POST", "/scim/v2/acme/Users", 201, "user.created", "tok_example",
               resourceType="User", resourceId="2819c223-7f76-453a-919d-413861904646"),
        record("Us02AAAAoEEMpg=", "GET", "/scim/v2/acme/Users", 400, "error", "tok_example",
               query="filter=title pr", scimType="invalidFilter",
               detail="the filter names an attribute that cannot be searched"),
        json.dumps({"level": "INFO", "message": "request", "tenant": "acme", "status": 201}),
    ]
    batch = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": "/aws/lambda/scim-users",
        "logStream": "2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef",
        "subscriptionFilters": ["scim-UsersRequestLines-EXAMPLE"],
        "logEvents": [
            {"id": str(36000000000000000000000000000000000000000000000000000000 + i),
             "timestamp": TIME_EPOCH, "message": m}
            for i, m in enumerate(lines)
        ],
    }
    packed = gzip.compress(json.dumps(batch).encode(), mtime=0)
    return {"awslogs": {"data": base64.b64encode(packed).decode()}}


FIXTURES = {
    "manage-create-tenant.json": http_event(
        "POST", "/tenants", body={"id": "acme", "displayName": "Acme Corporation"}, authorizer=iam()),
    "manage-list-tenants.json": http_event("GET", "/tenants", query="limit=50", authorizer=iam()),
    "manage-get-tenant.json": http_event("GET", "/tenants/acme", authorizer=iam()),
    "manage-issue-token.json": http_event(
        "POST", "/tenants/acme/tokens",
        body={"name": "Entra ID", "expiresAt": "2027-11-22T00:00:00Z"}, authorizer=iam()),
    "manage-list-tokens.json": http_event("GET", "/tenants/acme/tokens", authorizer=iam()),
    "manage-health.json": http_event("GET", "/tenants/acme/health", authorizer=iam()),
    "manage-revoke-token.json": http_event("DELETE", f"/tenants/acme/tokens/{TOKEN_ID}", authorizer=iam()),
    "manage-delete-tenant.json": http_event("DELETE", "/tenants/acme", authorizer=iam()),
    "manage-openapi.json": http_event("GET", "/openapi.json", authorizer=iam()),
    "manage-without-iam.json": http_event("GET", "/tenants"),
    "manage-schedule.json": {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-11-22T12:01:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/scim-ManageFunctionPurgeSchedule-EXAMPLE"],
        "detail": {},
    },
    "recorder-subscription.json": subscription_event(),
}

for name, event in FIXTURES.items():
    (EVENTS / name).write_text(json.dumps(event, indent=2) + "\n")
    print("wrote events/" + name)
