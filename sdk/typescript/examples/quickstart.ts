/**
 * Keyward from TypeScript: create an API key, verify it, read typed errors.
 *
 *     npm run build
 *     KEYWARD_API_KEY=kw_ak_... node dist/examples/quickstart.js [HOST:PORT]
 *
 * KEYWARD_API_KEY is a key holding the API sets keyward.api-keys and
 * keyward.verify, for example the operator key printed on the server's first
 * start; the address defaults to 127.0.0.1:50051. The program checks every
 * answer against the API's contract and exits non-zero when one is wrong, so
 * CI runs it as a test (.ci/sdk). It never prints a key.
 */
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  ApiKey_State,
  ApiKeyService,
  Decision_Reason,
  ERROR_DOMAIN,
  bearer,
  errorInfo,
  fieldViolations,
} from "@keyward/client";

const VERIFY_API_SET = "apiSets/keyward.verify";
const ACCOUNTS_API_SET = "apiSets/keyward.accounts";

type ApiKeys = Client<typeof ApiKeyService>;

/** An answer that is not what the API promises. */
class ContractError extends Error {}

function expect(condition: boolean, what: string): void {
  if (!condition) throw new ContractError(what);
}

const same = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((value, i) => value === b[i]);

/**
 * Creates a key for the caller's own user that may only verify keys, as a
 * gateway would hold, and returns it (the response shows it once).
 */
async function createGatewayKey(apiKeys: ApiKeys, apiKey: string): Promise<string> {
  const response = await apiKeys.createApiKey(
    {
      parent: "users/me",
      apiKey: {
        displayName: "typescript-example-gateway",
        description: "created by sdk/typescript/examples/quickstart.ts",
        apiSets: [VERIFY_API_SET],
      },
    },
    bearer(apiKey),
  );
  const created = response.apiKey;
  expect(created !== undefined, "CreateApiKey returned no key resource");
  console.log(`created ${created!.name} (${created!.keyPrefix}…), api sets ${JSON.stringify(created!.apiSets)}`);
  expect(response.key.startsWith("kw_ak_"), "CreateApiKey returned no key");
  expect(created!.state === ApiKey_State.ACTIVE, `new key is ${ApiKey_State[created!.state]}`);
  expect(same(created!.apiSets, [VERIFY_API_SET]), `new key holds ${created!.apiSets}`);
  return response.key;
}

/**
 * Verifies the gateway key, authenticated by the gateway key itself: valid for
 * its API set, refused (an OK answer, not an error) outside it.
 */
async function verify(apiKeys: ApiKeys, gatewayKey: string): Promise<void> {
  let { decision } = await apiKeys.verifyApiKey({ key: gatewayKey, apiSet: VERIFY_API_SET }, bearer(gatewayKey));
  expect(decision !== undefined, "VerifyApiKey returned no decision");
  console.log(
    `verify for ${VERIFY_API_SET}: valid=${decision!.valid} principal=${decision!.principal} ` +
      `user=${decision!.user} api_sets=${JSON.stringify(decision!.apiSets)}`,
  );
  expect(decision!.valid, `the new key does not verify: ${Decision_Reason[decision!.reason]}`);
  expect(decision!.reason === Decision_Reason.UNSPECIFIED, "a valid decision carries a reason");
  expect(decision!.principal.includes("/apiKeys/"), `principal ${decision!.principal} is not an API key`);
  expect(
    decision!.account !== "" && decision!.user.startsWith(`${decision!.account}/users/`),
    `user ${decision!.user} is not in account ${decision!.account}`,
  );
  expect(same(decision!.apiSets, [VERIFY_API_SET]), `decision lists ${decision!.apiSets}`);

  ({ decision } = await apiKeys.verifyApiKey({ key: gatewayKey, apiSet: ACCOUNTS_API_SET }, bearer(gatewayKey)));
  expect(decision !== undefined, "VerifyApiKey returned no decision");
  const reason = Decision_Reason[decision!.reason];
  console.log(`verify for ${ACCOUNTS_API_SET}: valid=${decision!.valid} reason=${reason}`);
  expect(!decision!.valid, "the key verifies for an API set it does not hold");
  expect(decision!.reason === Decision_Reason.API_SET_NOT_ALLOWED, `reason ${reason}`);
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
 * Errors are for the caller's own mistakes; each carries an ErrorInfo, and
 * INVALID_ARGUMENT names the wrong fields.
 */
async function readTypedErrors(apiKeys: ApiKeys, apiKey: string): Promise<void> {
  let error = await failure(
    () => apiKeys.verifyApiKey({ key: "kw_ak_not-a-key" }), // no credential
    "a call without a credential",
  );
  let info = errorInfo(error);
  console.log(`no credential: ${Code[error.code]} reason=${info?.reason} domain=${info?.domain}`);
  expect(error.code === Code.Unauthenticated, `code ${Code[error.code]}`);
  expect(info?.domain === ERROR_DOMAIN, "no keyward ErrorInfo");
  expect(info?.reason === "UNAUTHENTICATED", `reason ${info?.reason}`);

  error = await failure(
    () => apiKeys.createApiKey({ parent: "users/me", apiKey: { apiSets: [VERIFY_API_SET] } }, bearer(apiKey)),
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
  const apiKey = process.env.KEYWARD_API_KEY ?? "";
  if (apiKey === "") {
    console.error("set KEYWARD_API_KEY to a key holding keyward.api-keys and keyward.verify");
    return 2;
  }
  const address = process.argv[2] ?? "127.0.0.1:50051";
  // gRPC over HTTP/2 without TLS (h2c), as the server listens by default.
  const apiKeys = createClient(ApiKeyService, createGrpcTransport({ baseUrl: `http://${address}` }));
  try {
    console.log("== create an API key");
    const gatewayKey = await createGatewayKey(apiKeys, apiKey);
    console.log("== verify it");
    await verify(apiKeys, gatewayKey);
    console.log("== read typed errors");
    await readTypedErrors(apiKeys, apiKey);
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
