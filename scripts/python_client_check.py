"""Checks a Python client generated from proto/ against a running token authority.

scripts/check-python-client.sh generates the client, starts the server and runs this script as

    python scripts/python_client_check.py HOST:PORT

with the generated modules on PYTHONPATH. The script creates a project, authorizes one request
with each of its four default tokens for an action the token's scope allows, and regenerates
one token (the old key must be denied, the new one allowed). It prints one line per check and
a summary, "python client: N passed, M failed", and exits with 1 when a check failed.
"""

import sys
import uuid

import grpc

from tokenauthority.v1 import token_authority_pb2 as pb
from tokenauthority.v1 import token_authority_pb2_grpc as pb_grpc

# Seconds each call may take before the check fails.
CALL_TIMEOUT = 5.0

# For each default token, named after its scope: an action and item platform that its scope
# allows. A browser item is client-side, so it needs post_client_item.
ALLOWED_REQUESTS = {
    "post_server_item": (pb.ACTION_POST_ITEM, "python"),
    "post_client_item": (pb.ACTION_POST_ITEM, "browser"),
    "read": (pb.ACTION_READ, ""),
    "write": (pb.ACTION_WRITE, ""),
}


class Checks:
    """Records the outcome of each check and prints it."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def record(self, name, ok, detail=""):
        """Counts one check and prints its outcome, with `detail` when it failed."""
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}: {detail}")

    def summary(self):
        """Returns the closing line."""
        return f"python client: {self.passed} passed, {self.failed} failed"


def authorize(stub, key, action, platform):
    """Calls Authorize for one request and returns the reply."""
    request = pb.AuthorizeRequest(access_token=key, action=action, platform=platform)
    return stub.Authorize(request, timeout=CALL_TIMEOUT)


def describe(reply):
    """Returns the decision and denial reason of an Authorize reply, by name."""
    decision = pb.Decision.Name(reply.decision)
    reason = pb.DenialReason.Name(reply.denial_reason)
    return f"{decision} ({reason}, HTTP {reply.http_status})"


def run_checks(stub, checks):
    """Runs every check against the server behind `stub`."""
    # A fresh project id per run, so the check also passes against a server that has run it
    # before.
    project_id = f"python-check-{uuid.uuid4().hex[:12]}"
    created = stub.Manage(
        pb.ManageRequest(
            create_project=pb.CreateProjectOperation(
                account_id="python-check", project_id=project_id, name="Python client check"
            )
        ),
        timeout=CALL_TIMEOUT,
    ).create_project
    tokens = {issued.token.name: issued for issued in created.tokens}
    checks.record(
        "create_project returns the four default tokens",
        sorted(tokens) == sorted(ALLOWED_REQUESTS),
        f"got tokens {sorted(tokens)}",
    )

    for name, (action, platform) in ALLOWED_REQUESTS.items():
        issued = tokens.get(name)
        if issued is None:
            checks.record(f"authorize with the {name} token", False, "the token is missing")
            continue
        reply = authorize(stub, issued.access_token, action, platform)
        checks.record(
            f"authorize {pb.Action.Name(action)} with the {name} token",
            reply.decision == pb.DECISION_ALLOW,
            describe(reply),
        )

    read = tokens.get("read")
    if read is None:
        checks.record("regenerate the read token", False, "the token is missing")
        return
    regenerated = stub.Regenerate(
        pb.RegenerateRequest(
            token=pb.TokenRef(project_id=project_id, token_id=read.token.token_id)
        ),
        timeout=CALL_TIMEOUT,
    )
    new_key = regenerated.tokens[0].access_token if regenerated.tokens else ""
    old_reply = authorize(stub, read.access_token, pb.ACTION_READ, "")
    checks.record(
        "the old key is denied after regenerate",
        old_reply.decision == pb.DECISION_DENY
        and old_reply.denial_reason == pb.DENIAL_REASON_UNKNOWN_TOKEN,
        describe(old_reply),
    )
    new_reply = authorize(stub, new_key, pb.ACTION_READ, "")
    checks.record(
        "the new key is allowed after regenerate",
        new_reply.decision == pb.DECISION_ALLOW,
        describe(new_reply),
    )


def main(argv):
    if len(argv) != 2:
        print("usage: python_client_check.py HOST:PORT", file=sys.stderr)
        return 2
    target = argv[1]

    checks = Checks()
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.TokenAuthorityStub(channel)
        try:
            run_checks(stub, checks)
        except grpc.RpcError as error:
            checks.record(
                "calls to the server succeed",
                False,
                f"{error.code().name}: {error.details()} (server {target})",
            )
    print(checks.summary())
    return 1 if checks.failed or checks.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
