"""Keyward from Python: create an API key, verify it, read typed errors.

    KEYWARD_API_KEY=kw_ak_... python examples/quickstart.py [HOST:PORT]

KEYWARD_API_KEY is a key holding the API sets keyward.api-keys and
keyward.verify, for example the operator key printed on the server's first
start; the address defaults to 127.0.0.1:50051. The program checks every answer
against the API's contract and exits non-zero when one is wrong, so CI runs it
as a test (.ci/sdk). It never prints a key.
"""

from __future__ import annotations

import os
import sys

import grpc

from keyward import bearer
from keyward.errors import ERROR_DOMAIN, error_info, field_violations
from keyward.v1 import api_key_service_pb2 as pb
from keyward.v1 import api_key_service_pb2_grpc
from keyward.v1.decision_pb2 import Decision

VERIFY_API_SET = "apiSets/keyward.verify"
ACCOUNTS_API_SET = "apiSets/keyward.accounts"


class ContractError(Exception):
    """An answer that is not what the API promises."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise ContractError(what)


def create_gateway_key(stub: api_key_service_pb2_grpc.ApiKeyServiceStub, api_key: str) -> str:
    """Creates a key for the caller's own user that may only verify keys, as
    a gateway would hold, and returns it (the response shows it once)."""
    response = stub.CreateApiKey(
        pb.CreateApiKeyRequest(
            parent="users/me",
            api_key=pb.ApiKey(
                display_name="python-example-gateway",
                description="created by sdk/python/examples/quickstart.py",
                api_sets=[VERIFY_API_SET],
            ),
        ),
        metadata=bearer(api_key),
    )
    created = response.api_key
    print(f"created {created.name} ({created.key_prefix}…), api sets {list(created.api_sets)}")
    expect(response.key.startswith("kw_ak_"), "CreateApiKey returned no key")
    expect(created.state == pb.ApiKey.STATE_ACTIVE, f"new key is {pb.ApiKey.State.Name(created.state)}")
    expect(list(created.api_sets) == [VERIFY_API_SET], f"new key holds {list(created.api_sets)}")
    return response.key


def verify(stub: api_key_service_pb2_grpc.ApiKeyServiceStub, gateway_key: str) -> None:
    """Verifies the gateway key, authenticated by the gateway key itself: valid
    for its API set, refused (an OK answer, not an error) outside it."""
    decision = stub.VerifyApiKey(
        pb.VerifyApiKeyRequest(key=gateway_key, api_set=VERIFY_API_SET),
        metadata=bearer(gateway_key),
    ).decision
    print(f"verify for {VERIFY_API_SET}: valid={decision.valid} principal={decision.principal} "
          f"user={decision.user} api_sets={list(decision.api_sets)}")
    expect(decision.valid, f"the new key does not verify: {Decision.Reason.Name(decision.reason)}")
    expect(decision.reason == Decision.REASON_UNSPECIFIED, "a valid decision carries a reason")
    expect("/apiKeys/" in decision.principal, f"principal {decision.principal!r} is not an API key")
    expect(decision.account != "" and decision.user.startswith(decision.account + "/users/"),
           f"user {decision.user!r} is not in account {decision.account!r}")
    expect(list(decision.api_sets) == [VERIFY_API_SET], f"decision lists {list(decision.api_sets)}")

    decision = stub.VerifyApiKey(
        pb.VerifyApiKeyRequest(key=gateway_key, api_set=ACCOUNTS_API_SET),
        metadata=bearer(gateway_key),
    ).decision
    reason = Decision.Reason.Name(decision.reason)
    print(f"verify for {ACCOUNTS_API_SET}: valid={decision.valid} reason={reason}")
    expect(not decision.valid, "the key verifies for an API set it does not hold")
    expect(decision.reason == Decision.REASON_API_SET_NOT_ALLOWED, f"reason {reason}")


def read_typed_errors(stub: api_key_service_pb2_grpc.ApiKeyServiceStub, api_key: str) -> None:
    """Errors are for the caller's own mistakes; each carries an ErrorInfo,
    and INVALID_ARGUMENT names the wrong fields."""
    try:
        stub.VerifyApiKey(pb.VerifyApiKeyRequest(key="kw_ak_not-a-key"))  # no credential
        raise ContractError("a call without a credential answered OK")
    except grpc.RpcError as err:
        info = error_info(err)
        print(f"no credential: {err.code().name} reason={info and info.reason} domain={info and info.domain}")
        expect(err.code() == grpc.StatusCode.UNAUTHENTICATED, f"code {err.code().name}")
        expect(info is not None and info.domain == ERROR_DOMAIN, "no keyward ErrorInfo")
        expect(info.reason == "UNAUTHENTICATED", f"reason {info.reason}")

    try:
        stub.CreateApiKey(
            pb.CreateApiKeyRequest(parent="users/me", api_key=pb.ApiKey(api_sets=[VERIFY_API_SET])),
            metadata=bearer(api_key),
        )
        raise ContractError("a key without a display name was created")
    except grpc.RpcError as err:
        info = error_info(err)
        fields = [violation.field for violation in field_violations(err)]
        print(f"no display name: {err.code().name} reason={info and info.reason} fields={fields}")
        expect(err.code() == grpc.StatusCode.INVALID_ARGUMENT, f"code {err.code().name}")
        expect(info is not None and info.domain == ERROR_DOMAIN, "no keyward ErrorInfo")
        expect(fields == ["api_key.display_name"], f"field violations {fields}")


def main() -> int:
    api_key = os.environ.get("KEYWARD_API_KEY", "")
    if not api_key:
        print("set KEYWARD_API_KEY to a key holding keyward.api-keys and keyward.verify", file=sys.stderr)
        return 2
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    with grpc.insecure_channel(address) as channel:
        stub = api_key_service_pb2_grpc.ApiKeyServiceStub(channel)
        try:
            print("== create an API key")
            gateway_key = create_gateway_key(stub, api_key)
            print("== verify it")
            verify(stub, gateway_key)
            print("== read typed errors")
            read_typed_errors(stub, api_key)
        except ContractError as err:
            print(f"python example: FAILED: {err}", file=sys.stderr)
            return 1
        except grpc.RpcError as err:
            info = error_info(err)
            print(f"python example: FAILED: unexpected {err.code().name}: {err.details()} "
                  f"(reason {info and info.reason})", file=sys.stderr)
            return 1
    print("python example: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
