import type { Authenticator } from "../identity/authenticate.ts";
import type { Authenticated, RequestContext, Stage } from "../server/context.ts";

/** Turns the bearer token into an Identity, or refuses with 401. */
export function authenticateStage(
  authenticator: Authenticator,
): Stage<RequestContext, Authenticated> {
  return async function authenticate(ctx, next) {
    // headersDistinct keeps duplicate Authorization headers, which Node's
    // `headers` would silently collapse to the first one.
    const identity = await authenticator.authenticate(ctx.req.headersDistinct.authorization);
    ctx.outcome.user = identity.username;
    await next({ ...ctx, identity });
  };
}
