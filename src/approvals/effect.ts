/**
 * What an approver sees of a held call's effect: for a write, the object as
 * the API server's dry-run of the same request (by the same caller) returns
 * it and a diff against the object as it is now; for a delete, the object
 * that would be deleted. Asked of the API server, not guessed: defaults,
 * admission and patches are applied exactly as the real call would have them.
 */
import { createTwoFilesPatch } from "diff";
import { stringify } from "yaml";
import type { Identity } from "../identity/identity.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { Upstream } from "../kube/upstream.ts";
import { currentObject, dryRunWrite, parseObject, type UpstreamAnswer } from "../policy/dry-run.ts";

export interface CallEffect {
  /** The object after the call (writes), as the dry-run returned it. */
  after?: unknown;
  /** The object now (updates, patches, deletes); null when it does not exist. */
  before?: unknown;
  /** Unified diff of before → after as YAML, without status and managedFields. */
  diff?: string;
  /** Why the effect could not be shown, when it could not. */
  unavailable?: string;
}

const writeVerbs = new Set(["create", "update", "patch"]);

/** Drops what only adds noise to a review: managed fields, status, resourceVersion. */
function forReview(object: unknown): unknown {
  if (object === null || typeof object !== "object") return object;
  const { status: _status, ...rest } = object as Record<string, unknown>;
  const metadata = rest.metadata as Record<string, unknown> | undefined;
  if (metadata) {
    const { managedFields: _m, resourceVersion: _r, ...kept } = metadata;
    rest.metadata = kept;
  }
  return rest;
}

const ok = (answer: UpstreamAnswer) => answer.status >= 200 && answer.status < 300;

export async function callEffect(
  upstream: Upstream,
  call: {
    info: RequestInfo;
    method: string;
    path: string;
    contentType: string;
    body: Buffer | undefined;
    identity: Identity;
    requestId: string;
  },
): Promise<CallEffect> {
  const { info } = call;
  const effect: CallEffect = {};
  try {
    if (
      info.name !== "" &&
      (info.verb === "delete" || info.verb === "update" || info.verb === "patch")
    ) {
      const current = await currentObject(upstream, info, call.identity, call.requestId);
      if (ok(current)) effect.before = parseObject(current);
      else if (current.status === 404) effect.before = null;
      else effect.unavailable = `reading the current object failed with ${current.status}`;
    }
    if (writeVerbs.has(info.verb) && call.body !== undefined && call.body.length > 0) {
      const answer = await dryRunWrite(upstream, {
        method: call.method,
        path: call.path,
        contentType: call.contentType,
        body: call.body,
        identity: call.identity,
        requestId: call.requestId,
      });
      if (ok(answer)) effect.after = parseObject(answer);
      else effect.unavailable = `the dry-run of the call was refused with ${answer.status}`;
    }
  } catch (err) {
    effect.unavailable = `asking the API server failed: ${(err as Error).message}`;
  }
  if (effect.after !== undefined) {
    const before = effect.before ? stringify(forReview(effect.before)) : "";
    effect.diff = createTwoFilesPatch("now", "after", before, stringify(forReview(effect.after)));
  }
  return effect;
}
