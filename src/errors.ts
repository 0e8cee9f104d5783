/**
 * One error type for every stage. A stage throws a PortcullisError with a
 * stable code; only the pipeline runner renders it (as a Kubernetes Status).
 * The code → HTTP status mapping lives in one switch the compiler checks for
 * completeness, so a new code cannot ship without a status.
 */

export type ErrorCode =
  | "unauthenticated"
  | "bad_request"
  | "ambiguous_path"
  | "forbidden"
  | "not_found"
  | "not_acceptable"
  | "payload_too_large"
  | "upstream_unavailable"
  | "upstream_error"
  | "audit_unavailable"
  | "shutting_down"
  | "internal";

/** Kubernetes `StatusReason` values (k8s.io/apimachinery metav1). */
export type StatusReason =
  | "Unauthorized"
  | "BadRequest"
  | "Forbidden"
  | "NotFound"
  | "NotAcceptable"
  | "RequestEntityTooLarge"
  | "ServiceUnavailable"
  | "InternalError";

export class PortcullisError extends Error {
  readonly code: ErrorCode;
  /** Extra detail for logs; never sent to the client. */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PortcullisError";
    this.code = code;
    this.detail = options?.detail;
  }
}

/** A PortcullisError that also names why, for callers that act on the reason. */
export class ReasonedError<R extends string> extends PortcullisError {
  readonly reason: R;

  constructor(name: string, code: ErrorCode, reason: R, message: string) {
    super(code, message);
    this.name = name;
    this.reason = reason;
  }
}

export interface ErrorClass {
  httpStatus: number;
  reason: StatusReason;
}

export function classifyError(code: ErrorCode): ErrorClass {
  switch (code) {
    case "unauthenticated":
      return { httpStatus: 401, reason: "Unauthorized" };
    case "bad_request":
    case "ambiguous_path":
      return { httpStatus: 400, reason: "BadRequest" };
    case "forbidden":
      return { httpStatus: 403, reason: "Forbidden" };
    case "not_found":
      return { httpStatus: 404, reason: "NotFound" };
    case "not_acceptable":
      return { httpStatus: 406, reason: "NotAcceptable" };
    case "payload_too_large":
      return { httpStatus: 413, reason: "RequestEntityTooLarge" };
    case "upstream_unavailable":
    case "upstream_error":
      return { httpStatus: 502, reason: "ServiceUnavailable" };
    case "audit_unavailable":
    case "shutting_down":
      return { httpStatus: 503, reason: "ServiceUnavailable" };
    case "internal":
      return { httpStatus: 500, reason: "InternalError" };
    default: {
      const unreachable: never = code;
      throw new Error(`unhandled error code ${String(unreachable)}`);
    }
  }
}

export function isPortcullisError(err: unknown): err is PortcullisError {
  return err instanceof PortcullisError;
}
