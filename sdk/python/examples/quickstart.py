"""Keyward from Python: the newcomer's walk, from the operator key to a
verified user API key saved in a .APIKEY file.

    KEYWARD_API_KEY=kw_ak_... python examples/quickstart.py [HOST:PORT]

KEYWARD_API_KEY is the operator key printed on the server's first start; the
address defaults to 127.0.0.1:50051. With KEYWARD_CA_FILE set to a PEM file of
CA certificates, it speaks TLS to the server and trusts those CAs (give the
address by the name the server's certificate holds, for example
localhost:50051). With it, the program:

1. creates an account (a new one each run) with its first administrator, and
   receives the administrator's API key;
2. shows that an unverified account may not create credentials, then verifies
   the account (operators only);
3. as the administrator, creates an API client credential (Basic), verifies
   its secret, renews it with a grace period, and verifies both secrets;
4. as the administrator, creates an API key for themself, saves it as a
   NAME.APIKEY file in the current directory, reads it back and verifies it,
   for its API set and outside it;
5. gives a second user, Carol, her first API key the way a portal does: the
   administrator creates Carol with a role allowing keys and a key for the
   portal holding keyward.delegation; the portal, acting for Carol, lists the
   API sets she may choose from and creates her key, which verifies as hers;
6. reads typed errors.

It checks every answer against the API's contract and exits non-zero when one
is wrong, so CI runs it as a test (.ci/sdk). It never prints a key or secret.
"""

from __future__ import annotations

import os
import secrets
import sys

import grpc
from google.protobuf.duration_pb2 import Duration

from keyward import acting_as, bearer
from keyward.errors import ERROR_DOMAIN, error_info, field_violations
from keyward.key_file import ApiKeyFile
from keyward.v1 import account_service_pb2 as accounts_pb
from keyward.v1 import account_service_pb2_grpc
from keyward.v1 import api_key_service_pb2 as keys_pb
from keyward.v1 import api_key_service_pb2_grpc
from keyward.v1 import credential_service_pb2 as credentials_pb
from keyward.v1 import credential_service_pb2_grpc
from keyward.v1.decision_pb2 import Decision

VERIFY_API_SET = "apiSets/keyward.verify"
ACCOUNTS_API_SET = "apiSets/keyward.accounts"


class ContractError(Exception):
    """An answer that is not what the API promises."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise ContractError(what)


def reason(decision: Decision) -> str:
    return Decision.Reason.Name(decision.reason)


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        self.accounts = account_service_pb2_grpc.AccountServiceStub(channel)
        self.credentials = credential_service_pb2_grpc.CredentialServiceStub(channel)
        self.api_keys = api_key_service_pb2_grpc.ApiKeyServiceStub(channel)


def create_account(stubs: Stubs, operator_key: str, account_id: str) -> str:
    """Creates the account and its first administrator; returns the
    administrator's API key (shown once)."""
    response = stubs.accounts.CreateAccount(
        accounts_pb.CreateAccountRequest(
            account_id=account_id,
            account=accounts_pb.Account(display_name="Python quickstart"),
            administrator=accounts_pb.User(display_name="Alice", email="alice@quickstart.example"),
        ),
        metadata=bearer(operator_key),
    )
    account = response.account
    print(f"created {account.name} (client ID prefix {account.client_id_prefix!r}, "
          f"verified={account.verified}), administrator {response.administrator.name}")
    expect(account.name == f"accounts/{account_id}", f"account named {account.name}")
    expect(not account.verified, "a new account is already verified")
    expect(response.administrator_api_key.startswith("kw_ak_"), "no administrator API key")
    return response.administrator_api_key


def verify_account(stubs: Stubs, operator_key: str, admin_key: str, account: str) -> None:
    """Credentials need a verified account; only an operator verifies one."""
    try:
        stubs.credentials.CreateCredential(credential_request(account), metadata=bearer(admin_key))
        raise ContractError("an unverified account created a credential")
    except grpc.RpcError as err:
        info = error_info(err)
        print(f"credential in an unverified account: {err.code().name} reason={info and info.reason}")
        expect(err.code() == grpc.StatusCode.FAILED_PRECONDITION, f"code {err.code().name}")
        expect(info is not None and info.reason == "ACCOUNT_NOT_VERIFIED", "reason")

    verified = stubs.accounts.VerifyAccount(
        accounts_pb.VerifyAccountRequest(name=account), metadata=bearer(operator_key)
    ).account
    print(f"verified {verified.name}: verified={verified.verified}")
    expect(verified.verified, "VerifyAccount left the account unverified")


def credential_request(account: str) -> credentials_pb.CreateCredentialRequest:
    return credentials_pb.CreateCredentialRequest(
        parent=account,
        identifier="billing-export",
        credential=credentials_pb.Credential(
            display_name="Billing export",
            description="created by sdk/python/examples/quickstart.py",
            contact_email="ops@quickstart.example",
            application="billing",
            scheme=credentials_pb.Credential.SCHEME_BASIC,
            api_sets=[VERIFY_API_SET],
        ),
    )


def verify_secret(stubs: Stubs, admin_key: str, client_id: str, secret: str) -> Decision:
    return stubs.credentials.VerifyClientSecret(
        credentials_pb.VerifyClientSecretRequest(
            client_id=client_id, client_secret=secret, api_set=VERIFY_API_SET
        ),
        metadata=bearer(admin_key),
    ).decision


def credential_lifecycle(stubs: Stubs, admin_key: str, account: str) -> None:
    """Create a credential, verify its secret, renew it with a grace period."""
    created = stubs.credentials.CreateCredential(credential_request(account), metadata=bearer(admin_key))
    credential, first_secret = created.credential, created.client_secret
    print(f"created {credential.name}: client ID {credential.client_id}, "
          f"secret versions {[v.version for v in credential.secret_versions]}")
    expect(first_secret.startswith("kw_cs_"), "CreateCredential returned no secret")
    expect(credential.client_id.endswith("billing-export"), f"client ID {credential.client_id}")

    decision = verify_secret(stubs, admin_key, credential.client_id, first_secret)
    print(f"verify the secret: valid={decision.valid} principal={decision.principal}")
    expect(decision.valid, f"the new secret does not verify: {reason(decision)}")
    expect(decision.principal == credential.name, f"principal {decision.principal}")
    # One character changed (never to itself): the checksum no longer holds.
    wrong = first_secret[:-1] + ("y" if first_secret.endswith("x") else "x")
    decision = verify_secret(stubs, admin_key, credential.client_id, wrong)
    expect(not decision.valid and decision.reason == Decision.REASON_INVALID,
           f"a wrong secret: valid={decision.valid} {reason(decision)}")

    renewed = stubs.credentials.RenewCredentialSecret(
        credentials_pb.RenewCredentialSecretRequest(
            name=credential.name, grace_period=Duration(seconds=3600), etag=credential.etag
        ),
        metadata=bearer(admin_key),
    )
    versions = [(v.version, v.HasField("expire_time")) for v in renewed.credential.secret_versions]
    print(f"renewed with a 1 h grace period: (version, expires) {versions}")
    expect(renewed.client_secret.startswith("kw_cs_") and renewed.client_secret != first_secret,
           "RenewCredentialSecret returned no new secret")
    expect(renewed.credential.client_id == credential.client_id, "renewal changed the client ID")
    expect(len(versions) == 2, f"{len(versions)} live secret versions after a renewal with grace")

    for label, secret in (("new secret", renewed.client_secret),
                          ("previous secret (in its grace period)", first_secret)):
        decision = verify_secret(stubs, admin_key, credential.client_id, secret)
        print(f"verify the {label}: valid={decision.valid}")
        expect(decision.valid, f"the {label} does not verify: {reason(decision)}")


def user_api_key(stubs: Stubs, admin_key: str, account_id: str) -> str:
    """The administrator creates a key for themself and saves it as a
    .APIKEY file; returns the file's path."""
    response = stubs.api_keys.CreateApiKey(
        keys_pb.CreateApiKeyRequest(
            parent="users/me",
            api_key=keys_pb.ApiKey(
                display_name=f"{account_id} gateway",
                description="created by sdk/python/examples/quickstart.py",
                api_sets=[VERIFY_API_SET],
            ),
        ),
        metadata=bearer(admin_key),
    )
    created = response.api_key
    print(f"created {created.name} ({created.key_prefix}…), api sets {list(created.api_sets)}")
    expect(created.state == keys_pb.ApiKey.STATE_ACTIVE, f"new key is {keys_pb.ApiKey.State.Name(created.state)}")
    expect(list(created.api_sets) == [VERIFY_API_SET], f"new key holds {list(created.api_sets)}")

    key_file = ApiKeyFile.from_create_response(response)
    expect(key_file.file_name() == response.suggested_file_name,
           f"file name {key_file.file_name()} is not the server's {response.suggested_file_name}")
    path = key_file.write_new(".")
    print(f"saved it as {path} (mode {oct(os.stat(path).st_mode & 0o777)})")
    expect(os.stat(path).st_mode & 0o777 == 0o600, "the key file is readable by others")
    return str(path)


def verify_key_file(stubs: Stubs, path: str) -> None:
    """Reads the key back from its file and verifies it, authenticated by the
    key itself (it holds keyward.verify, as a gateway's key does): valid for
    its API set, refused (an OK answer, not an error) outside it."""
    key_file = ApiKeyFile.read(path)
    key = key_file.key
    decision = stubs.api_keys.VerifyApiKey(
        keys_pb.VerifyApiKeyRequest(key=key, api_set=VERIFY_API_SET), metadata=bearer(key)
    ).decision
    print(f"verify {path} for {VERIFY_API_SET}: valid={decision.valid} user={decision.user}")
    expect(decision.valid, f"the saved key does not verify: {reason(decision)}")
    expect(decision.principal == key_file.name, f"principal {decision.principal} is not {key_file.name}")
    expect(decision.user.startswith(decision.account + "/users/"), f"user {decision.user}")
    expect(list(decision.api_sets) == [VERIFY_API_SET], f"decision lists {list(decision.api_sets)}")

    decision = stubs.api_keys.VerifyApiKey(
        keys_pb.VerifyApiKeyRequest(key=key, api_set=ACCOUNTS_API_SET), metadata=bearer(key)
    ).decision
    print(f"verify it for {ACCOUNTS_API_SET}: valid={decision.valid} reason={reason(decision)}")
    expect(not decision.valid, "the key verifies for an API set it does not hold")
    expect(decision.reason == Decision.REASON_API_SET_NOT_ALLOWED, f"reason {reason(decision)}")


def second_user_first_key(stubs: Stubs, admin_key: str, account: str) -> None:
    """A portal gives Carol her first key: it acts for her with its own key,
    which holds keyward.delegation, and never goes beyond that key's sets."""
    role = stubs.accounts.CreateRole(
        accounts_pb.CreateRoleRequest(
            parent=account,
            role_id="key-holders",
            role=accounts_pb.Role(
                display_name="Key holders",
                authorities=[accounts_pb.AUTHORITY_MANAGE_USER_API_KEY],
            ),
        ),
        metadata=bearer(admin_key),
    ).role
    carol = stubs.accounts.CreateUser(
        accounts_pb.CreateUserRequest(
            parent=account,
            user_id="carol",
            user=accounts_pb.User(display_name="Carol", email="carol@quickstart.example", roles=[role.name]),
        ),
        metadata=bearer(admin_key),
    ).user
    print(f"created {carol.name} holding {list(carol.roles)}")
    portal_key = stubs.api_keys.CreateApiKey(
        keys_pb.CreateApiKeyRequest(
            parent="users/me",
            api_key=keys_pb.ApiKey(
                display_name="portal",
                api_sets=["apiSets/keyward.api-keys", "apiSets/keyward.delegation", VERIFY_API_SET],
            ),
        ),
        metadata=bearer(admin_key),
    ).key
    as_carol = bearer(portal_key) + acting_as(carol.name)

    available = stubs.api_keys.ListApiSets(
        keys_pb.ListApiSetsRequest(available_in="accounts/-"), metadata=as_carol
    ).api_sets
    names = [api_set.name for api_set in available]
    print(f"the portal, acting for Carol: she may choose from {names}")
    expect(names == ["apiSets/keyward.api-keys", VERIFY_API_SET], f"available sets {names}")

    created = stubs.api_keys.CreateApiKey(
        keys_pb.CreateApiKeyRequest(
            parent="users/me",
            api_key=keys_pb.ApiKey(display_name="Carol gateway", api_sets=[VERIFY_API_SET]),
        ),
        metadata=as_carol,
    )
    print(f"created {created.api_key.name} for Carol, created by {created.api_key.creator}")
    expect(created.api_key.name.startswith(carol.name + "/apiKeys/"), f"the key is {created.api_key.name}")
    expect(created.api_key.creator == carol.name, f"creator {created.api_key.creator}")

    decision = stubs.api_keys.VerifyApiKey(
        keys_pb.VerifyApiKeyRequest(key=created.key, api_set=VERIFY_API_SET), metadata=bearer(created.key)
    ).decision
    print(f"verify Carol's key: valid={decision.valid} user={decision.user}")
    expect(decision.valid and decision.user == carol.name, f"decision {decision}")

    try:
        stubs.api_keys.CreateApiKey(
            keys_pb.CreateApiKeyRequest(
                parent="users/me",
                api_key=keys_pb.ApiKey(display_name="too broad", api_sets=[ACCOUNTS_API_SET]),
            ),
            metadata=as_carol,
        )
        raise ContractError("the portal granted an API set it does not hold")
    except grpc.RpcError as err:
        info = error_info(err)
        print(f"a set beyond the portal's: {err.code().name} reason={info and info.reason}")
        expect(err.code() == grpc.StatusCode.PERMISSION_DENIED, f"code {err.code().name}")
        expect(info is not None and info.reason == "API_SET_NOT_HELD", "reason")


def read_typed_errors(stubs: Stubs, admin_key: str) -> None:
    """Errors are for the caller's own mistakes; each carries an ErrorInfo,
    and INVALID_ARGUMENT names the wrong fields."""
    try:
        stubs.api_keys.VerifyApiKey(keys_pb.VerifyApiKeyRequest(key="kw_ak_not-a-key"))  # no credential
        raise ContractError("a call without a credential answered OK")
    except grpc.RpcError as err:
        info = error_info(err)
        print(f"no credential: {err.code().name} reason={info and info.reason} domain={info and info.domain}")
        expect(err.code() == grpc.StatusCode.UNAUTHENTICATED, f"code {err.code().name}")
        expect(info is not None and info.domain == ERROR_DOMAIN, "no keyward ErrorInfo")
        expect(info.reason == "UNAUTHENTICATED", f"reason {info.reason}")

    try:
        stubs.api_keys.CreateApiKey(
            keys_pb.CreateApiKeyRequest(parent="users/me", api_key=keys_pb.ApiKey(api_sets=[VERIFY_API_SET])),
            metadata=bearer(admin_key),
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
    operator_key = os.environ.get("KEYWARD_API_KEY", "")
    if not operator_key:
        print("set KEYWARD_API_KEY to the operator key", file=sys.stderr)
        return 2
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    account_id = f"qs-py-{secrets.token_hex(4)}"
    account = f"accounts/{account_id}"
    ca_file = os.environ.get("KEYWARD_CA_FILE", "")
    if ca_file:
        with open(ca_file, "rb") as ca:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca.read())
        channel = grpc.secure_channel(address, credentials)
    else:
        channel = grpc.insecure_channel(address)
    with channel:
        stubs = Stubs(channel)
        try:
            print("== 1. an account and its administrator")
            admin_key = create_account(stubs, operator_key, account_id)
            print("== 2. verify the account")
            verify_account(stubs, operator_key, admin_key, account)
            print("== 3. an API client credential: create, verify, renew")
            credential_lifecycle(stubs, admin_key, account)
            print("== 4. a user API key, saved as a .APIKEY file, verified")
            path = user_api_key(stubs, admin_key, account_id)
            verify_key_file(stubs, path)
            print("== 5. a second user's first key, from a portal acting for her")
            second_user_first_key(stubs, admin_key, account)
            print("== 6. typed errors")
            read_typed_errors(stubs, admin_key)
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
