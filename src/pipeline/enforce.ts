import type { ApprovalGate } from "../approvals/gate.ts";
import { PortcullisError } from "../errors.ts";
import { approvalSchema } from "../policy/schema.ts";
import type { Recorded, Stage } from "../server/context.ts";
import { streamKind } from "./session.ts";

/**
 * Refuses a stream the gateway cannot inspect (exec or attach over SPDY, a
 * proxy upgrade) unless the deciding rule lets it pass unrecorded, which the
 * completion record then says.
 */
function checkInspectable(ctx: Recorded): void {
  const { decision } = ctx;
  if (ctx.transport.kind !== "upgrade" || decision.action === "deny") return;
  if (streamKind(ctx) !== "uninspectable") return;
  if (!decision.unrecordedStreams) {
    throw new PortcullisError(
      "forbidden",
      `portcullis: this stream cannot be inspected (${describeUpgrade(ctx)}), so it is refused rather than relayed unrecorded. For exec and attach use kubectl 1.30 or later, which streams over WebSockets; an operator can let such streams through unrecorded with a rule that says streams: {unrecorded: allow}`,
    );
  }
  ctx.outcome.stream = { protocol: describeUpgrade(ctx), unrecorded: true };
}

function describeUpgrade(ctx: Recorded): string {
  const upgrade = String(ctx.req.headers.upgrade ?? "unknown");
  const sub = ctx.requestInfo.subresource || ctx.requestInfo.verb;
  return `${sub} over ${upgrade}`;
}

/**
 * enforce: acts on the decision once the call is on record. A refusal here
 * still gets its completion record (audit wraps this stage). A write the API
 * server refused on its dry-run is answered with that refusal, exactly as the
 * API server worded it, and the real request is never sent.
 */
export function enforceStage(
  options: { approvals?: ApprovalGate } = {},
): Stage<Recorded, Recorded> {
  return async function enforce(ctx, next) {
    const { decision, refusal } = ctx;
    if (refusal) {
      if (ctx.transport.kind !== "http") {
        throw new PortcullisError(
          "forbidden",
          `portcullis: the API server refused this call (${refusal.status})`,
        );
      }
      const res = ctx.transport.res;
      ctx.outcome.status = refusal.status;
      ctx.outcome.bytesOut = refusal.body.length;
      ctx.onResponseChunk?.(refusal.body);
      await ctx.beforeResponseEnd?.();
      res.writeHead(refusal.status, {
        "content-type": String(refusal.headers["content-type"] ?? "application/json"),
        "content-length": refusal.body.length,
        ...(refusal.headers["audit-id"] ? { "audit-id": refusal.headers["audit-id"] } : {}),
      });
      res.end(refusal.body);
      return;
    }
    // A retry-mode approval is asked first: kubectl falls back from WebSocket
    // to SPDY in one invocation and shows the fallback's answer, which must
    // then carry the approval id. Once approved, the WebSocket attempt passes.
    const retryFirst = decision.action === "approve" && decision.approval?.mode === "retry";
    if (!retryFirst) checkInspectable(ctx);
    switch (decision.action) {
      case "allow":
        return next(ctx);
      case "deny":
        throw new PortcullisError(
          "forbidden",
          `portcullis: rule ${decision.ruleId}: ${decision.message}`,
        );
      case "approve": {
        const gate = options.approvals;
        if (gate === undefined) {
          throw new PortcullisError(
            "forbidden",
            `portcullis: rule ${decision.ruleId}: approval required: ${decision.message} (approvals are not configured on this gateway)`,
          );
        }
        const { admission, requestBody } = await gate.admit(
          ctx,
          decision.approval ?? approvalSchema.parse({}),
        );
        ctx.outcome.admission = admission;
        if (retryFirst) checkInspectable(ctx);
        return next({ ...ctx, requestBody });
      }
      default: {
        const unreachable: never = decision.action;
        throw new PortcullisError(
          "internal",
          `portcullis: unknown decision ${String(unreachable)}`,
        );
      }
    }
  };
}
