import type { Authenticator } from "../identity/authenticate.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { RequestContext } from "../server/context.ts";
import { authenticateStage } from "./authenticate.ts";
import { classifyStage } from "./classify.ts";
import { forwardStage } from "./forward.ts";

export interface PipelineDeps {
  authenticator: Authenticator;
  upstream: Upstream;
}

/**
 * The data path, in the order the stages run. Each stage narrows the context
 * for the next (RequestContext → Authenticated → Classified), so a stage that
 * needs the caller's identity cannot be placed before authentication.
 */
export function buildPipeline(deps: PipelineDeps): (ctx: RequestContext) => Promise<void> {
  const authenticate = authenticateStage(deps.authenticator);
  const classify = classifyStage();
  const forward = forwardStage(deps.upstream);
  return function pipeline(ctx) {
    return authenticate(ctx, (authenticated) => classify(authenticated, forward));
  };
}
