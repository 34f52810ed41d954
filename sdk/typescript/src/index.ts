/**
 * TypeScript client for Keyward, the API-credential service.
 *
 * The messages and service descriptors of the protobuf API (package
 * `keyward.v1`) are generated into `./gen` by `scripts/gen-sdks` and
 * re-exported here; pass a service to `createClient` from
 * `@connectrpc/connect` with a transport (for Node.js, `createGrpcTransport`
 * from `@connectrpc/connect-node`).
 *
 * Every Keyward error carries a `google.rpc.ErrorInfo` (domain `keyward`, an
 * UPPER_SNAKE reason) and, for INVALID_ARGUMENT, a `google.rpc.BadRequest`
 * naming each wrong field: `errorInfo` and `fieldViolations` read them.
 */
import { ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  type BadRequest_FieldViolation,
  type ErrorInfo,
} from "./gen/google/rpc/error_details_pb.js";

export * from "./gen/index.js";
export {
  BadRequestSchema,
  ErrorInfoSchema,
  type BadRequest,
  type BadRequest_FieldViolation,
  type ErrorInfo,
} from "./gen/google/rpc/error_details_pb.js";

/** The `ErrorInfo.domain` of every Keyward error. */
export const ERROR_DOMAIN = "keyward";

/** Call options that authenticate with an API key: `authorization: Bearer <api key>`. */
export function bearer(apiKey: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${apiKey}` } };
}

/** The metadata entry naming the user a front end acts for. */
export const ACT_AS_METADATA = "keyward-act-as";

/**
 * Call options with which a front end acts for one of its signed-in users
 * (`accounts/{account}/users/{user}`), authenticated with the front end's own
 * API key. The call runs as that user, within the key's own API sets, which
 * must include `keyward.delegation`.
 */
export function bearerActingAs(apiKey: string, user: string): { headers: Record<string, string> } {
  return { headers: { ...bearer(apiKey).headers, [ACT_AS_METADATA]: user } };
}

/** The `google.rpc.ErrorInfo` of a failed call, if it carries one. */
export function errorInfo(error: unknown): ErrorInfo | undefined {
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0];
}

/** The field violations of an INVALID_ARGUMENT error (empty otherwise). */
export function fieldViolations(error: unknown): BadRequest_FieldViolation[] {
  return ConnectError.from(error)
    .findDetails(BadRequestSchema)
    .flatMap((badRequest) => badRequest.fieldViolations);
}

export { ApiKeyFile, checkApiKey, EXTENSION, fileName, KeyFileError, ParseError, type ParseErrorKind } from "./keyFile.js";
