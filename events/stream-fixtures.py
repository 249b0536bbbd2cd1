#!/usr/bin/env python3
"""Writes events/dynamodb-*.json: DynamoDB Streams Lambda events built from
the real stream of DynamoDB Local, one file per provisioning event type,
each holding every record the request that makes that change writes.

Run inside the test servers (scim-local is built by `cargo build`):

    SCIM_ONLY_SERVERS=1 SCIM_SERVERS_CMD='python3 events/stream-fixtures.py' bash tests/run.sh
"""

import base64
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = "scim-fixtures"
TOKEN = "fixture-token"
AGENT = "Azure AD SCIM Provisioning"
REGION = os.environ.get("AWS_REGION", "us-east-1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    req.add_header("User-Agent", AGENT)
    req.add_header("Content-Type", "application/scim+json")
    with urllib.request.urlopen(req) as res:
        text = res.read()
        return json.loads(text) if text else None


def patch(ops):
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}


class Stream:
    def __init__(self, table):
        self.client = boto3.client(
            "dynamodbstreams", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"], region_name=REGION
        )
        arn = self.client.list_streams(TableName=table)["Streams"][-1]["StreamArn"]
        self.arn = arn
        self.iterators = {}

    def read(self):
        for shard in self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            sid = shard["ShardId"]
            if sid not in self.iterators:
                it = self.client.get_shard_iterator(
                    StreamArn=self.arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                )
                self.iterators[sid] = it["ShardIterator"]
        records = []
        for sid, it in list(self.iterators.items()):
            if it is None:
                continue
            page = self.client.get_records(ShardIterator=it)
            records.extend(page["Records"])
            self.iterators[sid] = page.get("NextShardIterator")
        return records


def as_lambda_json(value):
    """Binary attributes (the compressed document `dz`) as Lambda's event
    JSON carries them: base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: as_lambda_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_lambda_json(v) for v in value]
    return value


def lambda_record(r):
    d = r["dynamodb"]
    change = {
        "ApproximateCreationDateTime": int(d["ApproximateCreationDateTime"].timestamp()),
        "Keys": d["Keys"],
        "SequenceNumber": d["SequenceNumber"],
        "SizeBytes": d["SizeBytes"],
        "StreamViewType": d["StreamViewType"],
    }
    for image in ("NewImage", "OldImage"):
        if image in d:
            change[image] = as_lambda_json(d[image])
    return {
        "eventID": r["eventID"],
        "eventName": r["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": change,
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/ScimTable/stream/2026-12-01T00:00:00.000",
    }


def main():
    port = free_port()
    binary = ROOT / "target" / "debug" / "scim-local"
    env = dict(os.environ, SCIM_TABLE_NAME=TABLE)
    server = subprocess.Popen(
        [str(binary), "--addr", f"127.0.0.1:{port}", "--tenant", "acme", "--token", TOKEN,
         "--store", "dynamodb", "--create-table"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        while "listening" not in server.stdout.readline():
            pass
        base = f"http://127.0.0.1:{port}/scim/v2/acme"
        stream = Stream(TABLE)
        stream.read()

        def step(name, method, path, body=None):
            answer = call(base, method, path, body)
            time.sleep(0.2)
            records = [lambda_record(r) for r in stream.read()]
            if name:
                out = ROOT / "events" / f"dynamodb-{name}.json"
                out.write_text(json.dumps({"Records": records}, indent=2) + "\n")
                print(f"{out.name}: {len(records)} records")
            return answer

        user = step("user-created", "POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com", "externalId": "ada", "active": True,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"type": "work", "value": "ada@example.com", "primary": True}]})
        u = user["id"]
        step("user-updated", "PATCH", f"/Users/{u}",
             patch([{"op": "Replace", "path": "title", "value": "Engineer"}]))
        step("user-deactivated", "PATCH", f"/Users/{u}",
             patch([{"op": "Replace", "path": "active", "value": "False"}]))
        step("user-reactivated", "PATCH", f"/Users/{u}",
             patch([{"op": "Replace", "path": "active", "value": "True"}]))
        group = step("group-created", "POST", "/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering", "externalId": "eng"})
        g = group["id"]
        add = patch([{"op": "Add", "path": "members", "value": [{"value": u}]}])
        step("group-member-added", "PATCH", f"/Groups/{g}", add)
        step("group-updated", "PATCH", f"/Groups/{g}",
             patch([{"op": "Replace", "path": "displayName", "value": "R&D"}]))
        step("group-member-removed", "PATCH", f"/Groups/{g}",
             patch([{"op": "Remove", "path": "members", "value": [{"value": u}]}]))
        step(None, "PATCH", f"/Groups/{g}", add)
        step("user-deleted", "DELETE", f"/Users/{u}")
        step("group-deleted", "DELETE", f"/Groups/{g}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
