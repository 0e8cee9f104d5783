import { PortcullisError } from "../errors.ts";
import { negotiate } from "../masking/negotiate.ts";
import { type ProfileSet, UnknownProfileError } from "../masking/profiles.ts";
import { MaskTally } from "../masking/tally.ts";
import type { Masked, Recorded, Stage } from "../server/context.ts";
import { streamKind } from "./session.ts";

/**
 * mask: turns the decision's masking profile into what forwarding needs:
 * the profile, the Accept header to send upstream (JSON, whatever the client
 * asked for) and the form to answer in. Fails closed: a profile that is not
 * configured, a client that accepts nothing the masker can produce, or a
 * stream the gateway cannot inspect is refused, never answered in clear.
 * exec and attach sessions get their output masked; port-forward carries no
 * API data (its content is the pod's own protocol, on a pod and port a rule
 * named) and is not masked.
 */
export function maskStage(profiles: ProfileSet): Stage<Recorded, Masked> {
  return async function mask(ctx, next) {
    const name = ctx.decision.maskingProfile;
    if (name === undefined) return next({ ...ctx, masking: undefined });
    let profile: ReturnType<ProfileSet["resolve"]>;
    try {
      profile = profiles.resolve(name);
    } catch (err) {
      if (!(err instanceof UnknownProfileError)) throw err;
      throw new PortcullisError(
        "forbidden",
        `portcullis: rule ${ctx.decision.ruleId}: ${err.message}; the call is refused rather than answered in clear`,
      );
    }
    if (profile === undefined) return next({ ...ctx, masking: undefined });
    if (ctx.transport.kind === "upgrade") {
      const kind = streamKind(ctx);
      if (kind === "portforward") return next({ ...ctx, masking: undefined });
      if (kind === "uninspectable") {
        throw new PortcullisError(
          "forbidden",
          `portcullis: rule ${ctx.decision.ruleId}: this call may only be answered through the "${name}" masking profile, and this stream cannot be masked (exec or attach over SPDY: use kubectl 1.30 or later); the call is refused rather than streamed in clear`,
        );
      }
      // exec and attach over WebSocket: stdout and stderr are masked frame by frame.
      const tally = new MaskTally();
      ctx.outcome.masked = tally;
      return next({ ...ctx, masking: undefined, sessionMasking: { profile, tally } });
    }
    const negotiated = negotiate(ctx.req.headers.accept);
    if ("refuse" in negotiated) {
      throw new PortcullisError(
        "not_acceptable",
        `portcullis: responses to this call are masked (profile "${name}"), ${negotiated.refuse.reason}`,
      );
    }
    const tally = new MaskTally();
    ctx.outcome.masked = tally;
    return next({ ...ctx, masking: { profile, tally, ...negotiated } });
  };
}
