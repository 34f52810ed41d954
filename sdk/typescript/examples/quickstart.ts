/**
 * Keyward from TypeScript: the newcomer's walk, from the operator key to a
 * verified user API key saved in a .APIKEY file.
 *
 *     npm run build
 *     KEYWARD_API_KEY=kw_ak_... node dist/examples/quickstart.js [HOST:PORT]
 *
 * KEYWARD_API_KEY is the operator key printed on the server's first start; the
 * address defaults to 127.0.0.1:50051. With it, the program:
 *
 * 1. creates an account (a new one each run) with its first administrator,
 *    and receives the administrator's API key;
 * 2. shows that an unverified account may not create credentials, then
 *    verifies the account (operators only);
 * 3. as the administrator, creates an API client credential (Basic), verifies
 *    its secret, renews it with a grace period, and verifies both secrets;
 * 4. as the administrator, creates an API key for themself, saves it as a
 *    NAME.APIKEY file in the current directory, reads it back and verifies
 *    it, for its API set and outside it;
 * 5. gives a second user, Carol, her first API key the way a portal does: the
 *    administrator creates Carol with a role allowing keys and a key for the
 *    portal holding keyward.delegation; the portal, acting for Carol, lists
 *    the API sets she may choose from and creates her key, which verifies as
 *    hers;
 * 6. reads typed errors.
 *
 * It checks every answer against the API's contract and exits non-zero when
 * one is wrong, so CI runs it as a test (.ci/sdk). It never prints a key or
 * secret.
 */
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";

import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  AccountService,
  ApiKey_State,
  ApiKeyFile,
  ApiKeyService,
  Authority,
  Credential_Scheme,
  CredentialService,
  Decision_Reason,
  ERROR_DOMAIN,
  bearer,
  bearerActingAs,
  errorInfo,
  fieldViolations,
  type Decision,
} from "@keyward/client";

const VERIFY_API_SET = "apiSets/keyward.verify";
const ACCOUNTS_API_SET = "apiSets/keyward.accounts";

/** An answer that is not what the API promises. */
class ContractError extends Error {}

function expect(condition: boolean, what: string): asserts condition {
  if (!condition) throw new ContractError(what);
}

function present<T>(value: T | undefined, what: string): T {
  expect(value !== undefined, `the answer has no ${what}`);
  return value;
}

const same = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((value, i) => value === b[i]);

const reason = (decision: Decision) => Decision_Reason[decision.reason];

class Clients {
  readonly accounts: Client<typeof AccountService>;
  readonly credentials: Client<typeof CredentialService>;
  readonly apiKeys: Client<typeof ApiKeyService>;

  constructor(transport: Transport) {
    this.accounts = createClient(AccountService, transport);
    this.credentials = createClient(CredentialService, transport);
    this.apiKeys = createClient(ApiKeyService, transport);
  }
}

/** Calls `call`, which must fail, and returns its error as a ConnectError. */
async function failure(call: () => Promise<unknown>, what: string): Promise<ConnectError> {
  try {
    await call();
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new ContractError(`${what} answered OK`);
}

/**
 * Creates the account and its first administrator; returns the
 * administrator's API key (shown once).
 */
async function createAccount(clients: Clients, operatorKey: string, accountId: string): Promise<string> {
  const response = await clients.accounts.createAccount(
    {
      accountId,
      account: { displayName: "TypeScript quickstart" },
      administrator: { displayName: "Alice", email: "alice@quickstart.example" },
    },
    bearer(operatorKey),
  );
  const account = present(response.account, "account");
  const administrator = present(response.administrator, "administrator");
  console.log(
    `created ${account.name} (client ID prefix '${account.clientIdPrefix}', verified=${account.verified}), ` +
      `administrator ${administrator.name}`,
  );
  expect(account.name === `accounts/${accountId}`, `account named ${account.name}`);
  expect(!account.verified, "a new account is already verified");
  expect(response.administratorApiKey.startsWith("kw_ak_"), "no administrator API key");
  return response.administratorApiKey;
}

function credentialRequest(account: string) {
  return {
    parent: account,
    identifier: "billing-export",
    credential: {
      displayName: "Billing export",
      description: "created by sdk/typescript/examples/quickstart.ts",
      contactEmail: "ops@quickstart.example",
      application: "billing",
      scheme: Credential_Scheme.BASIC,
      apiSets: [VERIFY_API_SET],
    },
  };
}

/** Credentials need a verified account; only an operator verifies one. */
async function verifyAccount(clients: Clients, operatorKey: string, adminKey: string, account: string): Promise<void> {
  const error = await failure(
    () => clients.credentials.createCredential(credentialRequest(account), bearer(adminKey)),
    "a credential in an unverified account",
  );
  const info = errorInfo(error);
  console.log(`credential in an unverified account: ${Code[error.code]} reason=${info?.reason}`);
  expect(error.code === Code.FailedPrecondition, `code ${Code[error.code]}`);
  expect(info?.reason === "ACCOUNT_NOT_VERIFIED", `reason ${info?.reason}`);

  const verified = present(
    (await clients.accounts.verifyAccount({ name: account }, bearer(operatorKey))).account,
    "account",
  );
  console.log(`verified ${verified.name}: verified=${verified.verified}`);
  expect(verified.verified, "VerifyAccount left the account unverified");
}

async function verifySecret(clients: Clients, adminKey: string, clientId: string, secret: string): Promise<Decision> {
  const { decision } = await clients.credentials.verifyClientSecret(
    { clientId, clientSecret: secret, apiSet: VERIFY_API_SET },
    bearer(adminKey),
  );
  return present(decision, "decision");
}

/** Create a credential, verify its secret, renew it with a grace period. */
async function credentialLifecycle(clients: Clients, adminKey: string, account: string): Promise<void> {
  const created = await clients.credentials.createCredential(credentialRequest(account), bearer(adminKey));
  const credential = present(created.credential, "credential");
  const firstSecret = created.clientSecret;
  console.log(
    `created ${credential.name}: client ID ${credential.clientId}, ` +
      `secret versions ${JSON.stringify(credential.secretVersions.map((v) => v.version))}`,
  );
  expect(firstSecret.startsWith("kw_cs_"), "CreateCredential returned no secret");
  expect(credential.clientId.endsWith("billing-export"), `client ID ${credential.clientId}`);

  let decision = await verifySecret(clients, adminKey, credential.clientId, firstSecret);
  console.log(`verify the secret: valid=${decision.valid} principal=${decision.principal}`);
  expect(decision.valid, `the new secret does not verify: ${reason(decision)}`);
  expect(decision.principal === credential.name, `principal ${decision.principal}`);
  // One character changed (never to itself): the checksum no longer holds.
  const wrong = `${firstSecret.slice(0, -1)}${firstSecret.endsWith("x") ? "y" : "x"}`;
  decision = await verifySecret(clients, adminKey, credential.clientId, wrong);
  expect(
    !decision.valid && decision.reason === Decision_Reason.INVALID,
    `a wrong secret: valid=${decision.valid} ${reason(decision)}`,
  );

  const renewed = await clients.credentials.renewCredentialSecret(
    { name: credential.name, gracePeriod: { seconds: 3600n }, etag: credential.etag },
    bearer(adminKey),
  );
  const renewedCredential = present(renewed.credential, "credential");
  const versions = renewedCredential.secretVersions.map((v) => [v.version, v.expireTime !== undefined]);
  console.log(`renewed with a 1 h grace period: [version, expires] ${JSON.stringify(versions)}`);
  expect(
    renewed.clientSecret.startsWith("kw_cs_") && renewed.clientSecret !== firstSecret,
    "RenewCredentialSecret returned no new secret",
  );
  expect(renewedCredential.clientId === credential.clientId, "renewal changed the client ID");
  expect(versions.length === 2, `${versions.length} live secret versions after a renewal with grace`);

  for (const [label, secret] of [
    ["new secret", renewed.clientSecret],
    ["previous secret (in its grace period)", firstSecret],
  ] as const) {
    decision = await verifySecret(clients, adminKey, credential.clientId, secret);
    console.log(`verify the ${label}: valid=${decision.valid}`);
    expect(decision.valid, `the ${label} does not verify: ${reason(decision)}`);
  }
}

/**
 * The administrator creates a key for themself and saves it as a .APIKEY
 * file; returns the file's path.
 */
async function userApiKey(clients: Clients, adminKey: string, accountId: string): Promise<string> {
  const response = await clients.apiKeys.createApiKey(
    {
      parent: "users/me",
      apiKey: {
        displayName: `${accountId} gateway`,
        description: "created by sdk/typescript/examples/quickstart.ts",
        apiSets: [VERIFY_API_SET],
      },
    },
    bearer(adminKey),
  );
  const created = present(response.apiKey, "API key");
  console.log(`created ${created.name} (${created.keyPrefix}…), api sets ${JSON.stringify(created.apiSets)}`);
  expect(created.state === ApiKey_State.ACTIVE, `new key is ${ApiKey_State[created.state]}`);
  expect(same(created.apiSets, [VERIFY_API_SET]), `new key holds ${created.apiSets}`);

  const keyFile = ApiKeyFile.fromCreateResponse(response);
  expect(
    keyFile.fileName() === response.suggestedFileName,
    `file name ${keyFile.fileName()} is not the server's ${response.suggestedFileName}`,
  );
  const path = keyFile.writeNew(".");
  const mode = statSync(path).mode & 0o777;
  console.log(`saved it as ${path} (mode 0o${mode.toString(8)})`);
  expect(mode === 0o600, "the key file is readable by others");
  return path;
}

/**
 * Reads the key back from its file and verifies it, authenticated by the key
 * itself (it holds keyward.verify, as a gateway's key does): valid for its
 * API set, refused (an OK answer, not an error) outside it.
 */
async function verifyKeyFile(clients: Clients, path: string): Promise<void> {
  const keyFile = ApiKeyFile.read(path);
  const key = keyFile.key;
  let decision = present(
    (await clients.apiKeys.verifyApiKey({ key, apiSet: VERIFY_API_SET }, bearer(key))).decision,
    "decision",
  );
  console.log(`verify ${path} for ${VERIFY_API_SET}: valid=${decision.valid} user=${decision.user}`);
  expect(decision.valid, `the saved key does not verify: ${reason(decision)}`);
  expect(decision.principal === keyFile.name, `principal ${decision.principal} is not ${keyFile.name}`);
  expect(decision.user.startsWith(`${decision.account}/users/`), `user ${decision.user}`);
  expect(same(decision.apiSets, [VERIFY_API_SET]), `decision lists ${decision.apiSets}`);

  decision = present(
    (await clients.apiKeys.verifyApiKey({ key, apiSet: ACCOUNTS_API_SET }, bearer(key))).decision,
    "decision",
  );
  console.log(`verify it for ${ACCOUNTS_API_SET}: valid=${decision.valid} reason=${reason(decision)}`);
  expect(!decision.valid, "the key verifies for an API set it does not hold");
  expect(decision.reason === Decision_Reason.API_SET_NOT_ALLOWED, `reason ${reason(decision)}`);
}

/**
 * A portal gives Carol her first key: it acts for her with its own key, which
 * holds keyward.delegation, and never goes beyond that key's sets.
 */
async function secondUserFirstKey(clients: Clients, adminKey: string, account: string): Promise<void> {
  const role = present(
    (
      await clients.accounts.createRole(
        {
          parent: account,
          roleId: "key-holders",
          role: { displayName: "Key holders", authorities: [Authority.MANAGE_USER_API_KEY] },
        },
        bearer(adminKey),
      )
    ).role,
    "role",
  );
  const carol = present(
    (
      await clients.accounts.createUser(
        {
          parent: account,
          userId: "carol",
          user: { displayName: "Carol", email: "carol@quickstart.example", roles: [role.name] },
        },
        bearer(adminKey),
      )
    ).user,
    "user",
  );
  console.log(`created ${carol.name} holding ${JSON.stringify(carol.roles)}`);
  const portalKey = (
    await clients.apiKeys.createApiKey(
      {
        parent: "users/me",
        apiKey: {
          displayName: "portal",
          apiSets: ["apiSets/keyward.api-keys", "apiSets/keyward.delegation", VERIFY_API_SET],
        },
      },
      bearer(adminKey),
    )
  ).key;
  const asCarol = bearerActingAs(portalKey, carol.name);

  const names = (await clients.apiKeys.listApiSets({ availableIn: "accounts/-" }, asCarol)).apiSets.map(
    (apiSet) => apiSet.name,
  );
  console.log(`the portal, acting for Carol: she may choose from ${JSON.stringify(names)}`);
  expect(same(names, ["apiSets/keyward.api-keys", VERIFY_API_SET]), `available sets ${names}`);

  const created = await clients.apiKeys.createApiKey(
    { parent: "users/me", apiKey: { displayName: "Carol gateway", apiSets: [VERIFY_API_SET] } },
    asCarol,
  );
  const key = present(created.apiKey, "API key");
  console.log(`created ${key.name} for Carol, created by ${key.creator}`);
  expect(key.name.startsWith(`${carol.name}/apiKeys/`), `the key is ${key.name}`);
  expect(key.creator === carol.name, `creator ${key.creator}`);

  const decision = present(
    (await clients.apiKeys.verifyApiKey({ key: created.key, apiSet: VERIFY_API_SET }, bearer(created.key))).decision,
    "decision",
  );
  console.log(`verify Carol's key: valid=${decision.valid} user=${decision.user}`);
  expect(decision.valid && decision.user === carol.name, `decision ${reason(decision)} ${decision.user}`);

  const error = await failure(
    () =>
      clients.apiKeys.createApiKey(
        { parent: "users/me", apiKey: { displayName: "too broad", apiSets: [ACCOUNTS_API_SET] } },
        asCarol,
      ),
    "a key with an API set the portal does not hold",
  );
  const info = errorInfo(error);
  console.log(`a set beyond the portal's: ${Code[error.code]} reason=${info?.reason}`);
  expect(error.code === Code.PermissionDenied, `code ${Code[error.code]}`);
  expect(info?.reason === "API_SET_NOT_HELD", `reason ${info?.reason}`);
}

/**
 * Errors are for the caller's own mistakes; each carries an ErrorInfo, and
 * INVALID_ARGUMENT names the wrong fields.
 */
async function readTypedErrors(clients: Clients, adminKey: string): Promise<void> {
  let error = await failure(
    () => clients.apiKeys.verifyApiKey({ key: "kw_ak_not-a-key" }), // no credential
    "a call without a credential",
  );
  let info = errorInfo(error);
  console.log(`no credential: ${Code[error.code]} reason=${info?.reason} domain=${info?.domain}`);
  expect(error.code === Code.Unauthenticated, `code ${Code[error.code]}`);
  expect(info?.domain === ERROR_DOMAIN, "no keyward ErrorInfo");
  expect(info?.reason === "UNAUTHENTICATED", `reason ${info?.reason}`);

  error = await failure(
    () => clients.apiKeys.createApiKey({ parent: "users/me", apiKey: { apiSets: [VERIFY_API_SET] } }, bearer(adminKey)),
    "a key without a display name",
  );
  info = errorInfo(error);
  const fields = fieldViolations(error).map((violation) => violation.field);
  console.log(`no display name: ${Code[error.code]} reason=${info?.reason} fields=${JSON.stringify(fields)}`);
  expect(error.code === Code.InvalidArgument, `code ${Code[error.code]}`);
  expect(info?.domain === ERROR_DOMAIN, "no keyward ErrorInfo");
  expect(same(fields, ["api_key.display_name"]), `field violations ${fields}`);
}

async function main(): Promise<number> {
  const operatorKey = process.env.KEYWARD_API_KEY ?? "";
  if (operatorKey === "") {
    console.error("set KEYWARD_API_KEY to the operator key");
    return 2;
  }
  const address = process.argv[2] ?? "127.0.0.1:50051";
  const accountId = `qs-ts-${randomBytes(4).toString("hex")}`;
  const account = `accounts/${accountId}`;
  // gRPC over HTTP/2 without TLS (h2c), as the server listens by default.
  const clients = new Clients(createGrpcTransport({ baseUrl: `http://${address}` }));
  try {
    console.log("== 1. an account and its administrator");
    const adminKey = await createAccount(clients, operatorKey, accountId);
    console.log("== 2. verify the account");
    await verifyAccount(clients, operatorKey, adminKey, account);
    console.log("== 3. an API client credential: create, verify, renew");
    await credentialLifecycle(clients, adminKey, account);
    console.log("== 4. a user API key, saved as a .APIKEY file, verified");
    const path = await userApiKey(clients, adminKey, accountId);
    await verifyKeyFile(clients, path);
    console.log("== 5. a second user's first key, from a portal acting for her");
    await secondUserFirstKey(clients, adminKey, account);
    console.log("== 6. typed errors");
    await readTypedErrors(clients, adminKey);
  } catch (error) {
    if (error instanceof ContractError) {
      console.error(`typescript example: FAILED: ${error.message}`);
    } else {
      const err = ConnectError.from(error);
      console.error(
        `typescript example: FAILED: unexpected ${Code[err.code]}: ${err.rawMessage} (reason ${errorInfo(err)?.reason})`,
      );
    }
    return 1;
  }
  console.log("typescript example: ok");
  return 0;
}

process.exitCode = await main();
