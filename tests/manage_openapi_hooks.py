"""Schemathesis hooks for the management API run of tests/run.sh.

`expiresAt` must be in the future, which a JSON Schema cannot say: a
generated date-time in the past is moved into the future (same shape), so
that schema-valid bodies stay valid and `positive_data_acceptance` keeps
meaning what it says.
"""

from datetime import datetime, timedelta, timezone

import schemathesis


@schemathesis.hook
def map_body(context, body):
    if isinstance(body, dict) and isinstance(body.get("expiresAt"), str):
        try:
            at = datetime.fromisoformat(body["expiresAt"].replace("z", "Z"))
        except ValueError:
            return body
        if at.tzinfo is not None and at <= datetime.now(timezone.utc) + timedelta(minutes=5):
            future = datetime.now(timezone.utc) + timedelta(days=30)
            body = {**body, "expiresAt": future.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return body
