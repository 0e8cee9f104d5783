import { classifyRequest } from "../kube/request-info.ts";
import type { Authenticated, Classified, Stage } from "../server/context.ts";

/** Classifies the call with the API server's semantics; ambiguous paths get 400. */
export function classifyStage(): Stage<Authenticated, Classified> {
  return async function classify(ctx, next) {
    const requestInfo = classifyRequest(ctx.req.method ?? "GET", ctx.req.url ?? "/");
    ctx.outcome.verb = requestInfo.verb;
    ctx.outcome.resource = requestInfo.isResourceRequest
      ? requestInfo.subresource
        ? `${requestInfo.resource}/${requestInfo.subresource}`
        : requestInfo.resource
      : "nonresource";
    await next({ ...ctx, requestInfo });
  };
}
