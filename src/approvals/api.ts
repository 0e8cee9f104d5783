/**
 * The approvals HTTP API, served by the gateway beside the Kubernetes API
 * under `/portcullis/v1/` (no Kubernetes path starts so). Callers
 * authenticate exactly as for Kubernetes calls (OIDC or agent token); what
 * they may do depends on who they are:
 *
 * - members of an approver group (config `approvals.approverGroups`) list and
 *   read every approval and grant, and create and revoke grants;
 * - a requester reads their own approvals (an agent in retry mode polls its
 *   approval this way);
 * - deciding needs membership of one of the approval's own approver groups,
 *   and the requester can never decide their own call (the store refuses it
 *   too).
 *
 * GET  /portcullis/v1/approvals[?state=pending&limit=100]   GET /portcullis/v1/approvals/{id}
 * POST /portcullis/v1/approvals/{id}/approve {reason}   …/deny {reason}
 * GET  /portcullis/v1/grants[?active=true]          POST /portcullis/v1/grants {…}
 * POST /portcullis/v1/grants/{id}/revoke {reason}
 * GET  /portcullis/v1/notifications                 recent deliveries per target
 * GET  /portcullis/v1/sessions                      open streams and watches
 * POST /portcullis/v1/sessions/kill {reason, requestId | username}   the kill switch
 *
 * Errors are Kubernetes Status objects, like every other refusal.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { readRequestBody } from "../audit/body.ts";
import { PortcullisError } from "../errors.ts";
import type { Authenticator } from "../identity/authenticate.ts";
import type { Identity } from "../identity/identity.ts";
import { toStatus } from "../kube/status.ts";
import type { LiveCalls } from "../sessions/live.ts";
import type { TargetDeliveries } from "./notify/deliver.ts";
import type { ApprovalStore } from "./store/store.ts";
import { isApprovalStoreError } from "./store/store.ts";
import type { ApprovalRequest, Grant } from "./types.ts";

export const apiPrefix = "/portcullis/v1/";

export interface ApprovalsApiOptions {
  store: ApprovalStore;
  authenticator: Authenticator;
  /** Groups whose members may see every approval and manage grants. */
  approverGroups: readonly string[];
  onDecided?: (approval: ApprovalRequest) => void;
  onGrant?: (event: "grant.created" | "grant.revoked", grant: Grant) => void;
  /** Recent notification deliveries per target, for approvers to see what failed. */
  deliveries?: () => TargetDeliveries[];
  /** Open streams and watches: listed and ended by approvers (the kill switch). */
  live?: LiveCalls;
  now?: () => Date;
}

const reasonSchema = z
  .object({ reason: z.string().trim().min(1, "a reason is required") })
  .strict();

const list = z.array(z.string().min(1)).min(1);
const grantSchema = z
  .object({
    subject: z.string().min(1),
    reason: z.string().trim().min(1, "a reason is required"),
    /** Seconds the grant lasts: at most a day. */
    durationSeconds: z.number().int().min(1).max(86_400),
    scope: z
      .object({
        verbs: list,
        /** "" is the core group (pods, secrets, configmaps…). */
        apiGroups: z.array(z.string()).min(1).default([""]),
        resources: list,
        namespaces: list,
        names: list.optional(),
      })
      .strict(),
    fromApproval: z.string().optional(),
  })
  .strict();
export type GrantRequest = z.input<typeof grantSchema>;

const killSchema = z
  .object({
    reason: z.string().trim().min(1, "a reason is required"),
    requestId: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
  })
  .strict()
  .refine((k) => (k.requestId === undefined) !== (k.username === undefined), {
    message: "name either requestId or username",
  });

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function inAny(identity: Identity, groups: readonly string[]): boolean {
  return identity.groups.some((g) => groups.includes(g));
}

const storeErrorCodes: Record<string, "forbidden" | "not_found" | "bad_request"> = {
  approval_not_found: "not_found",
  grant_not_found: "not_found",
  self_approval: "forbidden",
  already_decided: "bad_request",
  approval_closed: "bad_request",
  approval_expired: "bad_request",
  grant_revoked: "bad_request",
};

async function jsonBody<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const raw = await readRequestBody(req, 64 * 1024);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8") || "{}");
  } catch {
    throw new PortcullisError("bad_request", "portcullis: the request body is not JSON");
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
    throw new PortcullisError("bad_request", `portcullis: ${problems.join("; ")}`);
  }
  return result.data;
}

export class ApprovalsApi {
  readonly #o: ApprovalsApiOptions;
  readonly #now: () => Date;

  constructor(options: ApprovalsApiOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** True when the request is this API's (it is then answered). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? "/", "https://gateway");
    if (!url.pathname.startsWith(apiPrefix)) return false;
    this.#serve(req, res, url).catch((err: unknown) => {
      const status = toStatus(
        isApprovalStoreError(err)
          ? new PortcullisError(
              storeErrorCodes[err.code] ?? "bad_request",
              `portcullis: ${err.message}`,
            )
          : err,
      );
      if (!res.headersSent) send(res, status.code, status);
      else res.destroy();
    });
    return true;
  }

  async #serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const identity = await this.#o.authenticator.authenticate(req.headersDistinct.authorization);
    const approver = inAny(identity, this.#o.approverGroups);
    const parts = url.pathname.slice(apiPrefix.length).split("/").filter(Boolean);
    const method = req.method ?? "GET";
    const { store } = this.#o;
    const [collection, id, action] = parts;

    if (collection === "approvals") {
      if (method === "GET" && id === undefined) {
        const state = url.searchParams.get("state");
        const limit = Number(url.searchParams.get("limit") ?? 100);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
          throw new PortcullisError(
            "bad_request",
            "portcullis: limit is a whole number from 1 to 10000",
          );
        }
        const approvals = await store.listApprovals({
          limit,
          ...(state ? { states: state.split(",") as ApprovalRequest["state"][] } : {}),
          ...(approver ? {} : { requester: identity.username }),
        });
        return send(res, 200, { items: approvals });
      }
      if (id === undefined) throw new PortcullisError("not_found", "portcullis: no such API path");
      const approval = await store.getApproval(id);
      const visible = approval && (approver || approval.requester.username === identity.username);
      if (!approval || !visible) {
        throw new PortcullisError("not_found", `portcullis: approval ${id} not found`);
      }
      if (method === "GET" && action === undefined) return send(res, 200, approval);
      if (method === "POST" && (action === "approve" || action === "deny")) {
        const { reason } = await jsonBody(req, reasonSchema);
        if (!inAny(identity, approval.approvers.groups)) {
          throw new PortcullisError(
            "forbidden",
            `portcullis: ${identity.username} may not decide approval ${id}: it needs a member of ${approval.approvers.groups.join(" or ")}`,
          );
        }
        const decided = await store.decide(
          id,
          { by: identity.username, groups: [...identity.groups], decision: action, reason },
          this.#now(),
        );
        this.#o.onDecided?.(decided);
        return send(res, 200, decided);
      }
    }

    if (collection === "notifications" && method === "GET" && id === undefined) {
      if (!approver) {
        throw new PortcullisError(
          "forbidden",
          `portcullis: notification deliveries are shown to members of ${this.#o.approverGroups.join(" or ")}`,
        );
      }
      return send(res, 200, { targets: this.#o.deliveries?.() ?? [] });
    }

    if (collection === "sessions") {
      if (!approver) {
        throw new PortcullisError(
          "forbidden",
          `portcullis: open sessions are listed and ended by members of ${this.#o.approverGroups.join(" or ")}`,
        );
      }
      const live = this.#o.live;
      if (method === "GET" && id === undefined)
        return send(res, 200, { items: live?.list() ?? [] });
      if (method === "POST" && id === "kill") {
        const request = await jsonBody(req, killSchema);
        const reason = `portcullis: ended by ${identity.username}: ${request.reason}`;
        const ended =
          request.requestId !== undefined
            ? Number(live?.end(request.requestId, reason) ?? false)
            : (live?.endUser(request.username as string, reason) ?? 0);
        return send(res, 200, { ended });
      }
    }

    if (collection === "grants") {
      if (!approver) {
        throw new PortcullisError(
          "forbidden",
          `portcullis: grants are managed by members of ${this.#o.approverGroups.join(" or ")}`,
        );
      }
      if (method === "GET" && id === undefined) {
        const active = url.searchParams.get("active") === "true";
        const subject = url.searchParams.get("subject");
        const grants = await store.listGrants({
          ...(active ? { activeAt: this.#now() } : {}),
          ...(subject ? { subject } : {}),
        });
        return send(res, 200, { items: grants });
      }
      if (method === "POST" && id === undefined) {
        const request = await jsonBody(req, grantSchema);
        if (request.subject === identity.username) {
          throw new PortcullisError(
            "forbidden",
            "portcullis: nobody may grant themselves an elevation",
          );
        }
        const now = this.#now();
        const grant = await store.createGrant(
          {
            expiresAt: new Date(now.getTime() + request.durationSeconds * 1000).toISOString(),
            grantedBy: identity.username,
            reason: request.reason,
            subject: request.subject,
            scope: request.scope,
            ...(request.fromApproval ? { fromApproval: request.fromApproval } : {}),
          },
          now,
        );
        this.#o.onGrant?.("grant.created", grant);
        return send(res, 201, grant);
      }
      if (method === "GET" && id !== undefined && action === undefined) {
        const grant = await store.getGrant(id);
        if (!grant) throw new PortcullisError("not_found", `portcullis: grant ${id} not found`);
        return send(res, 200, grant);
      }
      if (method === "POST" && id !== undefined && action === "revoke") {
        const { reason } = await jsonBody(req, reasonSchema);
        const grant = await store.revokeGrant(id, identity.username, reason, this.#now());
        this.#o.onGrant?.("grant.revoked", grant);
        return send(res, 200, grant);
      }
    }
    throw new PortcullisError(
      "not_found",
      `portcullis: no such API path ${method} ${url.pathname}`,
    );
  }
}
