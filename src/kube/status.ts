import { classifyError, isPortcullisError, PortcullisError } from "../errors.ts";

/** A Kubernetes `meta/v1 Status` object, the shape kubectl prints errors from. */
export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  code: number;
  details?: { causes?: Array<{ reason?: string; message: string; field?: string }> };
}

/**
 * Renders any thrown value as a Status. The HTTP status always equals
 * `Status.code`. Unknown errors become a generic 500 so internals never leak.
 */
export function toStatus(err: unknown): KubeStatus {
  const known: PortcullisError = isPortcullisError(err)
    ? err
    : new PortcullisError("internal", "portcullis: internal error");
  const { httpStatus, reason } = classifyError(known.code);
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: known.message,
    reason,
    code: httpStatus,
  };
}
