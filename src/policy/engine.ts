/**
 * What the data path needs from the policy engine, whatever its internals:
 * whether a call needs the object it would produce (so the dry-run happens
 * only when a rule looks at it), and the decision.
 */
import type { AuditLevel } from "../audit/record.ts";
import type { Identity } from "../identity/identity.ts";
import type { ExecRequest } from "../kube/exec-request.ts";
import type { PortForwardRequest } from "../kube/portforward-request.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { ApprovalSpec } from "./schema.ts";

export type PolicyAction = "allow" | "deny" | "approve";

export interface PolicyRequest {
  identity: Identity;
  requestInfo: RequestInfo;
  method: string;
  /** Labels of the call's namespace, when known. */
  namespaceLabels?: Record<string, string>;
  /** For pods/exec and pods/attach: the command, container and streams asked for. */
  exec?: ExecRequest;
  /** For pods/portforward: the ports asked for, or one connection's port. */
  portForward?: PortForwardRequest;
}

export interface PolicyInput extends PolicyRequest {
  /** The object as the API server would store it (dry-run), for writes. */
  object?: unknown;
  /** The current object, for updates, patches and deletes (null if none). */
  oldObject?: unknown;
}

export interface PolicyDecision {
  action: PolicyAction;
  ruleId: string;
  message: string;
  auditLevel?: AuditLevel;
  maskingProfile?: string;
  /** For `approve`: who may approve, how many, hold or retry, and for how long. */
  approval?: ApprovalSpec;
  /** An SPDY exec or attach may pass unrecorded (the rule's `streams.unrecorded: allow`). */
  unrecordedStreams?: boolean;
}

export interface PolicyEngine {
  needsObject(request: PolicyRequest): { object: boolean; oldObject: boolean };
  decide(input: PolicyInput): PolicyDecision;
}
