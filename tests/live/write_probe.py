"""Writes one record as asked on stdin (JSON) and prints the outcome as JSON; run by the live tests.

Runs under /usr/bin/python3 with only the standard library, the way a module runs on a target.
"""

from __future__ import annotations

import json
import sys

from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.backends import select_backend
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.send.write import write_record
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.errors import AuditError
from ansible_collections.changeaudit.linux.plugins.module_utils._audit.record.record import UserRecord


def main() -> None:
    request = json.loads(sys.stdin.read())
    try:
        record = UserRecord(request["op"], request.get("fields") or {})
        if request.get("skip_checks"):
            # Send without the status checks, to show what the kernel does on its own.
            backend, _fallback = select_backend(request.get("backend", "auto"))
            with backend:
                sequence = backend.send(record)
            print(json.dumps({"ok": True, "sequence": sequence, "record": record.text, "backend": backend.name}))
            return
        if request.get("burst"):
            # Unchecked records sent just before, to use up a rate limit (test_loss_live).
            backend, _fallback = select_backend("netlink")
            with backend:
                for count in range(request["burst"]):
                    backend.send(UserRecord(request["op"] + "-burst", {"n": count}))
        options = {"verify": True, "verify_timeout": request.get("verify_timeout", 10.0)} if request.get("verify") else {}
        if request.get("forwarding"):
            options["forwarding"] = True
        outcome = write_record(
            record, request.get("backend", "auto"), check_mode=request.get("check_mode", False), **options
        )
        print(json.dumps(dict(outcome._asdict(), ok=True)))
    except AuditError as exc:
        print(json.dumps(dict(exc.as_dict(), ok=False, msg=str(exc))))


if __name__ == "__main__":
    main()
