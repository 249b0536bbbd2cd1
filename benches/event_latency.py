#!/usr/bin/env python3
"""Time from a SCIM response to its event line, on the local server.

Starts `scim-local --events /dev/stdout` (the binary given as the first
argument, default target/debug/scim-local) on a free loopback port, creates
one user, then sends N (default 300, SCIM_EVENT_CHANGES) PATCHes that each
flip `title`, and for each one measures the time from reading the complete
response to reading the `user.updated` line it produced. Prints median,
p95 and max in milliseconds. Only loopback is targeted.

With SCIM_EVENT_STORE=dynamodb the server uses DynamoDB Local and its
events come from the table's stream; run it inside the test servers:

    SCIM_ONLY_SERVERS=1 SCIM_SERVERS_CMD='env SCIM_EVENT_STORE=dynamodb \
        python3 benches/event_latency.py' bash tests/run.sh
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import queue

binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/scim-local"
changes = int(os.environ.get("SCIM_EVENT_CHANGES", "300"))
store = os.environ.get("SCIM_EVENT_STORE", "memory")
token = "scim_eventlatencybenchmarktoken"

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]

proc = subprocess.Popen(
    [binary, "--addr", f"127.0.0.1:{port}", "--token", token, "--events", "/dev/stdout",
     "--store", store] + (["--create-table"] if store == "dynamodb" else []),
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
)
lines: "queue.Queue[tuple[float, dict]]" = queue.Queue()


def reader():
    for line in proc.stdout:
        if line.startswith("{"):
            lines.put((time.perf_counter(), json.loads(line)))


threading.Thread(target=reader, daemon=True).start()
base = f"http://127.0.0.1:{port}/scim/v2/default"


def call(method, path, body):
    req = urllib.request.Request(
        base + path, method=method, data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(req) as res:
        data = res.read()
    return time.perf_counter(), json.loads(data) if data else None


try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.1)
    _, user = call("POST", "/Users", {"userName": "latency@example.com"})
    lines.get(timeout=10)
    latencies = []
    for i in range(changes):
        op = {"op": "replace", "path": "title", "value": f"t{i}"}
        answered, _ = call("PATCH", f"/Users/{user['id']}",
                           {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [op]})
        arrived, event = lines.get(timeout=10)
        assert event["detail-type"] == "user.updated", event
        latencies.append(max(0.0, arrived - answered) * 1000)
    latencies.sort()
    print(f"{store}, {changes} changes: median {statistics.median(latencies):.3f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95) - 1]:.3f} ms, max {latencies[-1]:.3f} ms")
finally:
    proc.terminate()
    proc.wait()
