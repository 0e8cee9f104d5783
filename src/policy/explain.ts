/**
 * `explain`: the same evaluate the gateway runs, with the request's
 * classification and every rule considered, rendered for a person or as JSON.
 */
import { describeRequest } from "./agents.ts";
import { evaluate, needsObject } from "./evaluate.ts";
import { requestFacts } from "./match.ts";
import type { CompiledPolicy, Decision, PolicyInput } from "./types.ts";

export interface Explanation {
  request: { method: string; path: string; summary: string };
  identity: { subject: string; kind: string; username: string; groups: string[] };
  classification: PolicyInput["requestInfo"];
  needs: { object: boolean; oldObject: boolean };
  decision: Decision;
}

export function explanationOf(policy: CompiledPolicy, input: PolicyInput): Explanation {
  const { identity, requestInfo } = input;
  return {
    request: {
      method: input.method,
      path: requestInfo.path,
      summary: describeRequest(requestFacts(input, false)),
    },
    identity: {
      subject: identity.subject,
      kind: identity.kind,
      username: identity.username,
      groups: [...identity.groups],
    },
    classification: requestInfo,
    needs: needsObject(policy, input),
    decision: evaluate(policy, input),
  };
}

export function explain(
  policy: CompiledPolicy,
  input: PolicyInput,
  format: "text" | "json" = "text",
): string {
  const explanation = explanationOf(policy, input);
  return format === "json"
    ? `${JSON.stringify(explanation, null, 2)}\n`
    : renderExplanation(explanation);
}

export function renderExplanation(e: Explanation): string {
  const c = e.classification;
  const groups = e.identity.groups.length === 0 ? "none" : e.identity.groups.join(", ");
  const lines = [
    `request:    ${e.request.method} ${e.request.path}`,
    `caller:     ${e.identity.kind} ${e.identity.subject} (username ${e.identity.username}; groups ${groups})`,
    c.isResourceRequest
      ? `classified: verb=${c.verb} apiGroup=${JSON.stringify(c.apiGroup)} version=${c.apiVersion} resource=${c.resource}` +
        ` subresource=${JSON.stringify(c.subresource)} namespace=${JSON.stringify(c.namespace)} name=${JSON.stringify(c.name)}`
      : `classified: non-resource request, verb=${c.verb}`,
    `meaning:    ${e.request.summary}`,
    `needs:      object=${e.needs.object} oldObject=${e.needs.oldObject}`,
    "rules considered:",
  ];
  const width = Math.max(0, ...e.decision.trace.map((t) => t.ruleId.length));
  for (const t of e.decision.trace) {
    lines.push(`  ${t.outcome.padEnd(7)}  ${t.ruleId.padEnd(width)}  ${t.why}`);
  }
  const d = e.decision;
  const extras = [
    d.auditLevel === undefined ? "" : `audit level ${d.auditLevel}`,
    d.maskingProfile === undefined ? "" : `masking profile ${d.maskingProfile}`,
  ].filter((x) => x !== "");
  lines.push(`decision:   ${d.action.toUpperCase()} by ${d.ruleId}: ${d.message}`);
  if (extras.length > 0) lines.push(`            ${extras.join(", ")}`);
  return `${lines.join("\n")}\n`;
}

/** The refusal text the 403 Status carries, naming the rule and its reason. */
export function refusalMessage(decision: Decision): string {
  return decision.action === "approve"
    ? `portcullis: rule ${decision.ruleId} requires approval: ${decision.message}`
    : `portcullis: rule ${decision.ruleId}: ${decision.message}`;
}
