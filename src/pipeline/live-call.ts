import type { Masked } from "../server/context.ts";
import type { LiveCalls } from "../sessions/live.ts";

/**
 * Registers a long-running call with the kill switch: who holds it, what it
 * reaches, and the grant it came through (revoking the grant ends it).
 * `end` runs when it is ended; the reason goes into its completion record.
 * Returns the function that unregisters it.
 */
export function registerLiveCall(
  live: LiveCalls,
  ctx: Masked,
  kind: string,
  end: (reason: string) => void,
): () => void {
  const info = ctx.requestInfo;
  const admission = ctx.outcome.admission;
  return live.add({
    requestId: ctx.id,
    username: ctx.identity.username,
    kind,
    target: [info.namespace, info.name || info.resource].filter(Boolean).join("/"),
    startedAt: new Date().toISOString(),
    ...(admission?.via === "grant" ? { grant: admission.grant.id } : {}),
    end(reason) {
      ctx.outcome.sessionEnded = reason;
      end(reason);
    },
  });
}
