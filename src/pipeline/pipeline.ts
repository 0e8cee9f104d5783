import type { ApprovalGate } from "../approvals/gate.ts";
import type { Authenticator } from "../identity/authenticate.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { ProfileSet } from "../masking/profiles.ts";
import type { RequestContext } from "../server/context.ts";
import type { LiveCalls } from "../sessions/live.ts";
import { type AuditStageOptions, auditStage } from "./audit.ts";
import { authenticateStage } from "./authenticate.ts";
import { classifyStage } from "./classify.ts";
import { type DecideOptions, decideStage } from "./decide.ts";
import { enforceStage } from "./enforce.ts";
import { forwardStage } from "./forward.ts";
import { maskStage } from "./mask.ts";

export interface PipelineDeps {
  authenticator: Authenticator;
  policy: DecideOptions;
  audit: AuditStageOptions;
  upstream: Upstream;
  masking: ProfileSet;
  approvals?: ApprovalGate;
  /** Open streams and watches, for the kill switch. */
  live?: LiveCalls;
}

/**
 * The data path, in the order the stages run. Each stage narrows the context
 * for the next (RequestContext → Authenticated → Classified → Decided →
 * Recorded), so a stage that needs what an earlier one establishes cannot be
 * placed before it. decide runs before audit so the request record carries the
 * decision; enforce runs after it so every refusal is on record; mask sets up
 * the masking the decision asked for, just before forwarding.
 */
export function buildPipeline(deps: PipelineDeps): (ctx: RequestContext) => Promise<void> {
  const authenticate = authenticateStage(deps.authenticator);
  const classify = classifyStage();
  const decide = decideStage(deps.policy);
  const audit = auditStage(deps.audit);
  const enforce = enforceStage(deps.approvals ? { approvals: deps.approvals } : {});
  const mask = maskStage(deps.masking);
  const forward = forwardStage(deps.upstream, {
    ...(deps.live ? { live: deps.live } : {}),
    maxRecordingBytes: deps.audit.maxRecordingBytes,
  });
  return function pipeline(ctx) {
    return authenticate(ctx, (authenticated) =>
      classify(authenticated, (classified) =>
        decide(classified, (decided) =>
          audit(decided, (recorded) => enforce(recorded, (allowed) => mask(allowed, forward))),
        ),
      ),
    );
  };
}
