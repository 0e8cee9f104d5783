import type { Logger } from "pino";
import { readRequestBody } from "../audit/body.ts";
import { execRequest } from "../kube/exec-request.ts";
import { requestHasBody } from "../kube/headers.ts";
import { portForwardRequest } from "../kube/portforward-request.ts";
import type { Upstream } from "../kube/upstream.ts";
import { currentObject, dryRunWrite, parseObject, type UpstreamAnswer } from "../policy/dry-run.ts";
import type { PolicyDecision, PolicyEngine, PolicyRequest } from "../policy/engine.ts";
import type { NamespaceLabels } from "../policy/namespace-labels.ts";
import type { Classified, Decided, Stage } from "../server/context.ts";
import type { TypedLine } from "../sessions/stdin-lines.ts";

export interface DecideOptions {
  /** The policy in force now (it hot-reloads). */
  engine: () => PolicyEngine;
  upstream: Upstream;
  namespaces: NamespaceLabels | undefined;
  log: Logger;
}

const writeVerbs = new Set(["create", "update", "patch"]);
const oldObjectVerbs = new Set(["update", "patch", "delete"]);

function ok(answer: UpstreamAnswer): boolean {
  return answer.status >= 200 && answer.status < 300;
}

function failClosed(message: string): PolicyDecision {
  return { action: "deny", ruleId: "portcullis/evaluation-failed", message };
}

/**
 * decide: evaluates the policy for the call. For writes whose rules look at
 * the object, it first asks the API server what the write would produce
 * (`dryRun=All`, as the same caller) and what exists now. It runs before
 * audit.begin so the request record carries the decision; its dry-run has no
 * effect and is noted in that record. It never refuses by itself: enforce,
 * after the call is on record, does.
 */
export function decideStage(options: DecideOptions): Stage<Classified, Decided> {
  return async function decide(ctx, next) {
    const engine = options.engine();
    const info = ctx.requestInfo;
    const namespaceLabels = info.namespace
      ? await options.namespaces?.resolve(info.namespace).catch(() => undefined)
      : undefined;
    const request: PolicyRequest = {
      identity: ctx.identity,
      requestInfo: info,
      method: ctx.req.method ?? "GET",
      ...(namespaceLabels ? { namespaceLabels } : {}),
    };
    const exec = execRequest(info, ctx.req.url ?? info.path);
    if (exec) request.exec = exec;
    const portForward = portForwardRequest(info, ctx.req.url ?? info.path);
    if (portForward) request.portForward = portForward;
    const needs = info.isResourceRequest
      ? engine.needsObject(request)
      : { object: false, oldObject: false };
    let requestBody: Buffer | undefined;
    let object: unknown;
    let oldObject: unknown;
    let refusal: UpstreamAnswer | undefined;
    let dryRun = false;
    try {
      if (needs.oldObject && oldObjectVerbs.has(info.verb) && info.name) {
        const current = await currentObject(options.upstream, info, ctx.identity, ctx.id);
        if (ok(current)) oldObject = parseObject(current);
        else if (current.status === 404) oldObject = null;
        else refusal = current;
      }
      if (!refusal && needs.object && writeVerbs.has(info.verb) && requestHasBody(ctx.req)) {
        requestBody = await readRequestBody(ctx.req);
        dryRun = true;
        const answer = await dryRunWrite(options.upstream, {
          method: request.method,
          path: ctx.req.url ?? info.path,
          contentType: String(ctx.req.headers["content-type"] ?? "application/json"),
          body: requestBody,
          identity: ctx.identity,
          requestId: ctx.id,
        });
        if (ok(answer)) object = parseObject(answer);
        else refusal = answer;
      }
    } catch (err) {
      options.log.warn({ err }, "policy: could not fetch the object to judge");
      const decision = failClosed(
        `portcullis: the call could not be judged: asking the API server what it would do failed (${(err as Error).message})`,
      );
      return next({ ...ctx, decision, requestBody, dryRun, refusal: undefined, namespaceLabels });
    }
    let decision: PolicyDecision;
    if (refusal) {
      // The API server would refuse the write itself: relay its answer, and
      // never send the real request un-judged.
      decision = {
        action: "deny",
        ruleId: "portcullis/dry-run-refused",
        message: `the API server refused the dry-run with ${refusal.status}`,
      };
    } else {
      try {
        decision = engine.decide({
          ...request,
          ...(object !== undefined ? { object } : {}),
          ...(oldObject !== undefined ? { oldObject } : {}),
        });
      } catch (err) {
        decision = failClosed(
          `portcullis: the policy could not be evaluated: ${(err as Error).message}`,
        );
      }
    }
    const judgeTypedLine =
      exec?.stdin === true
        ? (line: TypedLine) => {
            try {
              return engine.decide({
                ...request,
                exec: {
                  ...exec,
                  typed: { line: line.text, uncertain: line.uncertain || line.truncated },
                },
              });
            } catch (err) {
              return failClosed(
                `portcullis: the typed line could not be judged: ${(err as Error).message}`,
              );
            }
          }
        : undefined;
    const judgePortForward = portForward
      ? (port: number) => {
          try {
            return engine.decide({ ...request, portForward: { ports: [port], connection: true } });
          } catch (err) {
            return failClosed(
              `portcullis: the port-forward connection could not be judged: ${(err as Error).message}`,
            );
          }
        }
      : undefined;
    await next({
      ...ctx,
      decision,
      requestBody,
      dryRun,
      refusal,
      namespaceLabels,
      ...(judgeTypedLine ? { judgeTypedLine } : {}),
      ...(judgePortForward ? { judgePortForward } : {}),
    });
  };
}
