/**
 * The approval gate: what the data path does with a call the policy says
 * needs approval. In order:
 *
 * 1. A grant in force for the caller that covers the call lets it through
 *    at once, and the call's records name the grant.
 * 2. Retry mode: an approved approval of exactly this call (same caller,
 *    method, path and body) is spent, once, and the call goes through.
 *    Otherwise an approval is requested (or the pending one reused) and the
 *    call is refused at once with a 403 naming its id: retry after approval.
 * 3. Hold mode: an approval is requested and the HTTP request is held open
 *    until it is approved (the call then proceeds exactly as it was asked),
 *    denied (403 with the approvers' reasons), times out (403), or the client
 *    goes away (the approval is cancelled). Decisions taken through another
 *    replica arrive through the store's change feed.
 *
 * A held call is never forwarded without the store saying `approved` and the
 * gate winning the approved → used transition, so an approval is used once.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { readRequestBody } from "../audit/body.ts";
import { PortcullisError } from "../errors.ts";
import type { Identity } from "../identity/identity.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { ApprovalSpec } from "../policy/schema.ts";
import type { Recorded } from "../server/context.ts";
import { callEffect } from "./effect.ts";
import type { ApprovalStore } from "./store/store.ts";
import type { ApprovalRequest, Grant, GrantScope, HeldCall } from "./types.ts";

/**
 * The grant or approval an approve-rule call went through, or the approval
 * that refused it (denied, expired, cancelled, or requested in retry mode);
 * it goes into the call's completion record.
 */
export type Admission =
  | { via: "grant"; grant: Grant }
  | { via: "approval"; approval: ApprovalRequest };

export interface ApprovalNotifier {
  approvalRequested(approval: ApprovalRequest): void;
  approvalClosed(approval: ApprovalRequest): void;
}

export interface ApprovalGateOptions {
  store: ApprovalStore;
  upstream: Upstream;
  /** This gateway instance: stable across its restarts (see replicaId). */
  replica: string;
  log: Logger;
  notifier?: ApprovalNotifier;
  /** How often a held call re-reads its approval besides the change feed. */
  pollMs?: number;
  now?: () => Date;
}

/** The replica id kept in the data dir, created on first start. */
export function replicaId(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    mkdirSync(dirname(path), { recursive: true });
    const id = `gw-${randomBytes(6).toString("hex")}`;
    writeFileSync(path, `${id}\n`, { flag: "wx" });
    return readFileSync(path, "utf8").trim();
  }
}

const streamSubresources = new Set(["exec", "attach", "portforward"]);

function matches(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => p === "*" || p === value);
}

/** Does the grant's scope cover this call? */
export function grantCovers(scope: GrantScope, info: RequestInfo): boolean {
  const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  return (
    info.isResourceRequest &&
    matches(scope.verbs, info.verb) &&
    matches(scope.apiGroups, info.apiGroup) &&
    (matches(scope.resources, resource) || matches(scope.resources, info.resource)) &&
    matches(scope.namespaces, info.namespace) &&
    (scope.names === undefined || matches(scope.names, info.name))
  );
}

function describeCall(info: RequestInfo): string {
  const where = info.namespace ? ` in namespace ${info.namespace}` : "";
  return `${info.verb} ${info.resource}${info.name ? ` ${info.name}` : ""}${where}`;
}

function minutes(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

function reasons(approval: ApprovalRequest): string {
  const denials = approval.decisions.filter((d) => d.decision === "deny");
  return denials.map((d) => `${d.by}: ${d.reason}`).join("; ") || approval.closedReason || "";
}

export class ApprovalGate {
  readonly #o: ApprovalGateOptions;
  readonly #now: () => Date;

  constructor(options: ApprovalGateOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** At start: calls this replica held when it stopped are cancelled, and said so. */
  async recover(): Promise<number> {
    const cancelled = await this.#o.store.cancelHeldBy(
      this.#o.replica,
      "the gateway holding the call restarted",
      this.#now(),
    );
    for (const approval of cancelled) this.#o.notifier?.approvalClosed(approval);
    return cancelled.length;
  }

  /**
   * Lets the call through (returning what admitted it and the request body,
   * read here when the approver needed to see it) or throws the refusal.
   */
  async admit(
    ctx: Recorded,
    spec: ApprovalSpec,
  ): Promise<{ admission: Admission; requestBody: Buffer | undefined }> {
    const { store } = this.#o;
    const info = ctx.requestInfo;
    const now = this.#now();
    for (const grant of await store.activeGrants(ctx.identity.username, now)) {
      if (grantCovers(grant.scope, info)) {
        return { admission: { via: "grant", grant }, requestBody: ctx.requestBody };
      }
    }
    let body = ctx.requestBody;
    // kubectl opens exec and attach over WebSocket (GET) and falls back to
    // SPDY (POST) in one invocation: for approvals they are the same call.
    const method = streamSubresources.has(info.subresource) ? "CONNECT" : (ctx.req.method ?? "GET");
    if (
      body === undefined &&
      ctx.transport.kind === "http" &&
      method !== "GET" &&
      method !== "DELETE"
    ) {
      body = await readRequestBody(ctx.req);
    }
    const bodySha256 =
      body && body.length > 0 ? createHash("sha256").update(body).digest("hex") : "";
    const path = ctx.req.url ?? info.path;
    if (spec.mode === "retry") {
      const ready = await store.findRetryable({
        username: ctx.identity.username,
        method,
        path,
        bodySha256,
        now,
      });
      if (ready) {
        const used = await store.transition(ready.id, ["approved"], "used", "retried", now);
        if (used) return { admission: { via: "approval", approval: used }, requestBody: body };
      }
    }
    const approval = await this.#request(ctx, spec, { method, path, body, bodySha256 });
    // The call's completion record names the approval, however it ends.
    ctx.outcome.admission = { via: "approval", approval };
    if (spec.mode === "retry") {
      throw new PortcullisError(
        "forbidden",
        `portcullis: rule ${ctx.decision.ruleId}: approval required: ${ctx.decision.message}. Approval ${approval.id} is requested; retry the same call after it is approved (before ${approval.expiresAt})`,
      );
    }
    const decided = await this.#hold(ctx, approval, spec.timeout);
    return { admission: { via: "approval", approval: decided }, requestBody: body };
  }

  async #request(
    ctx: Recorded,
    spec: ApprovalSpec,
    call: { method: string; path: string; body: Buffer | undefined; bodySha256: string },
  ): Promise<ApprovalRequest> {
    const { store } = this.#o;
    const info = ctx.requestInfo;
    const identity: Identity = ctx.identity;
    if (spec.mode === "retry") {
      // The same call asked again while its approval is pending: no second request.
      const pending = await store.listApprovals({
        states: ["pending"],
        requester: identity.username,
      });
      const same = pending.find(
        (a) =>
          a.mode === "retry" &&
          a.call.method === call.method &&
          a.call.path === call.path &&
          a.bodySha256 === call.bodySha256,
      );
      if (same) return same;
    }
    const effect = await callEffect(this.#o.upstream, {
      info,
      method: call.method,
      path: call.path,
      contentType: String(ctx.req.headers["content-type"] ?? "application/json"),
      body: call.body,
      identity,
      requestId: ctx.id,
    });
    const now = this.#now();
    const held: HeldCall = {
      method: call.method,
      path: call.path,
      verb: info.verb,
      apiGroup: info.apiGroup,
      resource: info.resource,
      subresource: info.subresource,
      namespace: info.namespace,
      name: info.name,
    };
    const command = ctx.req.headers["kubectl-command"];
    const session = ctx.req.headers["kubectl-session"];
    const approval = await store.createApproval(
      {
        expiresAt: new Date(now.getTime() + spec.timeout * 1000).toISOString(),
        requestId: ctx.id,
        replica: spec.mode === "hold" ? this.#o.replica : null,
        mode: spec.mode,
        requester: {
          username: identity.username,
          subject: identity.subject,
          kind: identity.kind,
          groups: [...identity.groups],
          ...(identity.uid ? { uid: identity.uid } : {}),
          ...(typeof session === "string" ? { sessionId: session } : {}),
          ...(typeof command === "string" ? { command } : {}),
        },
        call: held,
        bodySha256: call.bodySha256,
        rule: { id: ctx.decision.ruleId, reason: ctx.decision.message },
        approvers: { groups: [...spec.approvers], required: spec.required },
        effect,
      },
      now,
    );
    this.#o.log.info(
      { approval: approval.id, rule: approval.rule.id, call: describeCall(info) },
      "approval requested",
    );
    this.#o.notifier?.approvalRequested(approval);
    return approval;
  }

  /** Waits for a decision on `approval`; resolves once it is used for this call. */
  #hold(
    ctx: Recorded,
    approval: ApprovalRequest,
    timeoutSeconds: number,
  ): Promise<ApprovalRequest> {
    const { store } = this.#o;
    const id = approval.id;
    return new Promise<ApprovalRequest>((resolve, reject) => {
      let settled = false;
      let checking = false;
      let again = false;
      const finish = (err: Error | undefined, value?: ApprovalRequest) => {
        if (settled) return;
        settled = true;
        unsubscribe();
        clearTimeout(timer);
        clearInterval(poll);
        ctx.signal.removeEventListener("abort", onAbort);
        ctx.shutdown.removeEventListener("abort", onShutdown);
        if (err) reject(err);
        else resolve(value as ApprovalRequest);
      };
      const closed = (current: ApprovalRequest) => {
        ctx.outcome.admission = { via: "approval", approval: current };
        this.#o.notifier?.approvalClosed(current);
        switch (current.state) {
          case "denied":
            return finish(
              new PortcullisError(
                "forbidden",
                `portcullis: rule ${current.rule.id}: approval ${id} was denied: ${reasons(current)}`,
              ),
            );
          case "expired":
            return finish(
              new PortcullisError(
                "forbidden",
                `portcullis: rule ${current.rule.id}: approval ${id} timed out after ${minutes(timeoutSeconds)}`,
              ),
            );
          default:
            return finish(
              new PortcullisError(
                "forbidden",
                `portcullis: rule ${current.rule.id}: approval ${id} was ${current.state}${current.closedReason ? `: ${current.closedReason}` : ""}`,
              ),
            );
        }
      };
      const check = async (): Promise<void> => {
        if (settled) return;
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          const current = await store.getApproval(id);
          if (current === undefined) {
            return finish(new PortcullisError("internal", `portcullis: approval ${id} vanished`));
          }
          if (current.state === "pending") return;
          if (current.state === "approved") {
            const used = await store.transition(
              id,
              ["approved"],
              "used",
              "the held call proceeds",
              this.#now(),
            );
            if (used) {
              this.#o.notifier?.approvalClosed(used);
              return finish(undefined, used);
            }
            const after = await store.getApproval(id);
            if (after) closed(after);
            return;
          }
          closed(current);
        } catch (err) {
          this.#o.log.warn({ err, approval: id }, "approval: could not read the approval");
        } finally {
          checking = false;
          if (again && !settled) {
            again = false;
            void check();
          }
        }
      };
      const unsubscribe = store.subscribe((change) => {
        if (change.kind === "resync" || (change.kind === "approval" && change.id === id)) {
          void check();
        }
      });
      const poll = setInterval(() => void check(), this.#o.pollMs ?? 2000);
      const timer = setTimeout(() => {
        void store
          .transition(
            id,
            ["pending"],
            "expired",
            `no decision within ${minutes(timeoutSeconds)}`,
            this.#now(),
          )
          .then(
            () => check(),
            (err: unknown) => finish(err as Error),
          );
      }, timeoutSeconds * 1000);
      const cancel = (reason: string, error: Error) =>
        void store
          .transition(id, ["pending", "approved"], "cancelled", reason, this.#now())
          .then((cancelled) => {
            if (cancelled) this.#o.notifier?.approvalClosed(cancelled);
          })
          .catch((err: unknown) =>
            this.#o.log.warn({ err, approval: id }, "approval: cancel failed"),
          )
          .finally(() => finish(error));
      const onAbort = () =>
        cancel(
          "the client went away",
          Object.assign(new Error("client closed the connection"), { code: "ECONNRESET" }),
        );
      // A gateway shutting down does not keep callers waiting for a decision
      // it can no longer act on: the approval is cancelled and the call refused.
      const onShutdown = () =>
        cancel(
          "the gateway holding the call shut down",
          new PortcullisError(
            "shutting_down",
            `portcullis: the gateway is shutting down; approval ${id} is cancelled, ask again`,
          ),
        );
      if (ctx.signal.aborted) return onAbort();
      if (ctx.shutdown.aborted) return onShutdown();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      ctx.shutdown.addEventListener("abort", onShutdown, { once: true });
      void check();
    });
  }
}
