"""Runs python's scim2-tester (PyPI) against a running server.

Usage: python tests/conformance.py URL TOKEN TAG [TAG ...]

Prints one line per check and closes with "scim2-tester: N passed, N failed";
exits 1 when any selected check fails. Checks outside the selected tags are
skipped by scim2-tester itself and not counted.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    url, token, *tags = sys.argv[1:]
    client = SyncSCIMClient(Client(base_url=url, headers={"Authorization": f"Bearer {token}"}))
    client.discover()
    passed = failed = 0
    for result in check_server(client, include_tags=set(tags)):
        if result.status == Status.SKIPPED:
            continue
        ok = result.status == Status.SUCCESS
        passed += ok
        failed += not ok
        print(f"{result.status.name:8} {result.title}: {result.reason or ''}")
    print(f"scim2-tester: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
