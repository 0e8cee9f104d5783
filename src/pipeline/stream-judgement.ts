import type { PolicyDecision } from "../policy/engine.ts";
import type { Masked } from "../server/context.ts";

/**
 * Why a judgement made inside an open stream (a typed line, a port-forward
 * connection) refuses what it judged, or undefined when it passes. An
 * approve decision by the rule the call itself was approved under passes:
 * that approval covers its stream. Any other approve refuses, since nothing
 * inside a stream can wait for one; `cannotWait` says what to do instead.
 */
export function streamRefusal(
  ctx: Masked,
  decision: PolicyDecision,
  cannotWait: string,
): { ruleId: string; why: string } | undefined {
  if (decision.action === "allow") return undefined;
  if (decision.action === "approve" && decision.ruleId === ctx.decision.ruleId) return undefined;
  const why =
    decision.action === "approve" ? `${decision.message} (${cannotWait})` : decision.message;
  return { ruleId: decision.ruleId, why };
}
