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
