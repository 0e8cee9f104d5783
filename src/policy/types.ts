/** The compiled policy and the shapes evaluation takes and gives. */
import type { AuditLevel } from "../audit/record.ts";
import type { Identity } from "../identity/identity.ts";
import type { ExecRequest } from "../kube/exec-request.ts";
import type { PortForwardRequest } from "../kube/portforward-request.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { CelProgram } from "./cel.ts";
import type { PatternSet } from "./glob.ts";
import type { SkipReasons } from "./match.ts";
import type { Action, ApprovalSpec, LabelSelector, PolicyTestSpec } from "./schema.ts";

export type { Action } from "./schema.ts";

export interface PolicyInput {
  identity: Identity;
  requestInfo: RequestInfo;
  /** The HTTP method as received. */
  method: string;
  /** Labels of the request's namespace, when known (kept current by a namespace watch). */
  namespaceLabels?: Record<string, string>;
  /** The object the call would produce (the dry-run result), for create/update/patch. */
  object?: unknown;
  /** The object as it is now, for update/patch/delete. */
  oldObject?: unknown;
  /** The request asked for `dryRun=All`. */
  dryRun?: boolean;
  /** For pods/exec and pods/attach: the command, container and streams asked for. */
  exec?: ExecRequest;
  /** For pods/portforward: the ports asked for, or the one port of a connection being judged. */
  portForward?: PortForwardRequest;
}

export interface TraceEntry {
  ruleId: string;
  outcome: "matched" | "skipped";
  why: string;
}

export interface Decision {
  action: Action;
  ruleId: string;
  message: string;
  auditLevel?: AuditLevel;
  maskingProfile?: string;
  /** For `approve`: who may approve and how the caller waits. */
  approval?: ApprovalSpec;
  /**
   * A stream the gateway cannot inspect (an SPDY exec or attach) may pass
   * unrecorded: the deciding rule said so (`streams: {unrecorded: allow}`).
   */
  unrecordedStreams?: boolean;
  trace: TraceEntry[];
}

/** A rule with its match fields compiled; a field left out of the file is undefined. */
export interface CompiledRule {
  id: string;
  reason: string;
  message: string;
  action: Action;
  auditLevel?: AuditLevel;
  maskingProfile?: string;
  approval?: ApprovalSpec;
  unrecordedStreams?: boolean;
  kinds?: ReadonlySet<string>;
  subjects?: PatternSet;
  usernames?: PatternSet;
  groups?: PatternSet;
  verbs?: PatternSet;
  apiGroups?: PatternSet;
  resources?: PatternSet;
  namespaces?: PatternSet;
  namespaceSelector?: LabelSelector;
  names?: PatternSet;
  nonResourceURLs?: PatternSet;
  unlessAllowListed: boolean;
  /** Port-forward only: the ports the rule names; every port of the call must be among them. */
  ports?: PortSet;
  /**
   * The rule does not apply when a rule that allows or asks approval for
   * this port-forward names the pod and every port it reaches.
   */
  unlessPortNamed: boolean;
  /** Any of apiGroups, resources, namespaces, names is given: only resource requests match. */
  needsResource: boolean;
  condition?: CelProgram;
  skip: SkipReasons;
}

/** Ports as written in a rule: single ports and inclusive ranges. */
export interface PortSet {
  ranges: ReadonlyArray<readonly [number, number]>;
  has(port: number): boolean;
  /** As written, for explanations: `8080, 9000-9100`. */
  text: string;
}

export interface CompiledGrant {
  verbs: PatternSet;
  apiGroups?: PatternSet;
  resources?: PatternSet;
  namespaces?: PatternSet;
  names?: PatternSet;
  nonResourceURLs?: PatternSet;
  /** Resources written without `*`, for rules with `unlessAllowListed`. */
  exactResources: ReadonlySet<string>;
}

export interface CompiledAgent {
  name: string;
  username?: string;
  grants: CompiledGrant[];
}

/** One policy file, compiled. */
export interface PolicyLayer {
  name: string;
  file: string;
  defaultAction: Action;
  defaultMessage: string;
  agents: CompiledAgent[];
  rules: CompiledRule[];
  tests: PolicyTestSpec[];
}

/**
 * What evaluate runs: one or more layers (the baseline, then user files).
 * See compose.ts for how their answers combine.
 */
export interface CompiledPolicy {
  layers: PolicyLayer[];
}
