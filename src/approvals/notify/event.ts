/**
 * What a notification says: a projection of an approval request or a grant,
 * made here so that what leaves the gateway is chosen field by field. The
 * approval's raw `effect` (a dry-run object, which may be a Secret) never
 * leaves: the producer passes a short, already safe summary instead. The
 * notifier only reads these views; it has no handle on the store, so nothing
 * it receives or sends can approve, deny or grant anything.
 */
import { randomUUID } from "node:crypto";
import type { ApprovalRequest, Decision, Grant, HeldCall, Requester } from "../types.ts";

export type NotificationType =
  | "approval.requested"
  | "approval.decided"
  | "grant.created"
  | "grant.revoked";

export type ApprovalView = Pick<
  ApprovalRequest,
  | "id"
  | "state"
  | "mode"
  | "requestId"
  | "rule"
  | "approvers"
  | "createdAt"
  | "expiresAt"
  | "closedAt"
  | "closedReason"
> & {
  /** Who asks. */
  requester: Pick<Requester, "username" | "kind" | "sessionId" | "command">;
  /** What: the call as classified. Empty strings mean "not applicable" (e.g. no namespace). */
  call: Omit<HeldCall, "method" | "path">;
  decisions: Omit<Decision, "groups">[];
  /** A short account of the effect: a diff against the current object, or what would be deleted. */
  effect?: string;
};

/** A grant has nothing to hide from approvers: it is sent as the store keeps it. */
export type GrantView = Grant;

interface EventBase {
  /** Unique per event (not per delivery): receivers deduplicate on it. */
  id: string;
  /** RFC 3339, when the event happened. */
  time: string;
}

export type NotificationEvent =
  | (EventBase & { type: "approval.requested" | "approval.decided"; approval: ApprovalView })
  | (EventBase & { type: "grant.created" | "grant.revoked"; grant: GrantView });

/** The fields of an approval that may leave the gateway. */
export function approvalView(approval: ApprovalRequest, effectSummary?: string): ApprovalView {
  const { requester, call } = approval;
  return {
    id: approval.id,
    state: approval.state,
    mode: approval.mode,
    requestId: approval.requestId,
    requester: {
      username: requester.username,
      kind: requester.kind,
      ...(requester.sessionId === undefined ? {} : { sessionId: requester.sessionId }),
      ...(requester.command === undefined ? {} : { command: requester.command }),
    },
    call: {
      verb: call.verb,
      apiGroup: call.apiGroup,
      resource: call.resource,
      subresource: call.subresource,
      namespace: call.namespace,
      name: call.name,
    },
    rule: { id: approval.rule.id, reason: approval.rule.reason },
    approvers: { groups: [...approval.approvers.groups], required: approval.approvers.required },
    decisions: approval.decisions.map(({ by, decision, reason, at }) => ({
      by,
      decision,
      reason,
      at,
    })),
    ...(effectSummary === undefined ? {} : { effect: effectSummary }),
    createdAt: approval.createdAt,
    expiresAt: approval.expiresAt,
    ...(approval.closedAt === undefined ? {} : { closedAt: approval.closedAt }),
    ...(approval.closedReason === undefined ? {} : { closedReason: approval.closedReason }),
  };
}

/**
 * An approval event. `effectSummary` is what approvers read as the effect:
 * a diff or the list of what a delete removes, masked as the gateway masks
 * responses; never the raw dry-run object.
 */
export function approvalEvent(
  type: "approval.requested" | "approval.decided",
  approval: ApprovalRequest,
  effectSummary?: string,
  now = new Date(),
): NotificationEvent {
  return {
    type,
    id: randomUUID(),
    time: now.toISOString(),
    approval: approvalView(approval, effectSummary),
  };
}

export function grantEvent(
  type: "grant.created" | "grant.revoked",
  grant: Grant,
  now = new Date(),
): NotificationEvent {
  return { type, id: randomUUID(), time: now.toISOString(), grant: structuredClone(grant) };
}

/** The approver UI's page for the event's subject, when a base URL is configured. */
export function subjectLink(
  event: NotificationEvent,
  baseUrl: string | undefined,
): string | undefined {
  if (baseUrl === undefined) return undefined;
  const [kind, id] =
    "approval" in event ? ["approvals", event.approval.id] : ["grants", event.grant.id];
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  return new URL(`${kind}/${encodeURIComponent(id)}`, base).toString();
}

export interface ApprovalCommands {
  show: string;
  approve: string;
  deny: string;
}

/** The CLI lines an approver runs; the reason is left for them to write. */
export function approvalCommands(approvalId: string): ApprovalCommands {
  const id = shellWord(approvalId);
  return {
    show: `portcullis approvals show ${id}`,
    approve: `portcullis approvals approve ${id} --reason "…"`,
    deny: `portcullis approvals deny ${id} --reason "…"`,
  };
}

/** Quotes an id for a POSIX shell unless it is plainly safe (ids are generated, but be sure). */
function shellWord(word: string): string {
  return /^[A-Za-z0-9._:@-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `deployments/scale` in `apps`, as `kubectl` would name it: `deployments.apps/scale`. */
export function resourceLabel(call: ApprovalView["call"]): string {
  const resource = call.apiGroup ? `${call.resource}.${call.apiGroup}` : call.resource;
  return call.subresource ? `${resource}/${call.subresource}` : resource;
}

/** `payments/api`, `api` (cluster-scoped) or `payments/*` (a collection). */
export function objectLabel(call: ApprovalView["call"]): string {
  const name = call.name || "*";
  return call.namespace ? `${call.namespace}/${name}` : name;
}

/**
 * Keeps the first `maxLines` lines and `maxChars` characters of an effect
 * (a diff can be as long as the object), saying how much was left out.
 */
export function truncateEffect(
  effect: string,
  maxChars: number,
  maxLines: number,
): { text: string; truncated: boolean } {
  const lines = effect.split("\n");
  let text = lines.slice(0, maxLines).join("\n");
  if (text.length > maxChars) text = text.slice(0, maxChars);
  if (text.length === effect.length) return { text, truncated: false };
  const omittedLines = lines.length - text.split("\n").length;
  const note = omittedLines > 0 ? `… (${omittedLines} more lines)` : "… (truncated)";
  return { text: `${text}\n${note}`, truncated: true };
}
