/**
 * Wires approvals for a gateway: the store (same engine as the audit log),
 * the gate the data path holds calls in, the HTTP API, and notifications.
 */
import { join } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { postgresConnection } from "../audit/open.ts";
import type { AuditSettings } from "../config/schema.ts";
import type { Authenticator } from "../identity/authenticate.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { MaskingEngine } from "../masking/engine.ts";
import type { LiveCalls } from "../sessions/live.ts";
import { ApprovalsApi } from "./api.ts";
import type { ApprovalsConfig } from "./config.ts";
import type { CallEffect } from "./effect.ts";
import { ApprovalGate, replicaId } from "./gate.ts";
import { Notifier } from "./notify/deliver.ts";
import { approvalEvent, grantEvent } from "./notify/event.ts";
import { openPostgresApprovalStore } from "./store/postgres.ts";
import { approvalsDatabaseFile, openSqliteApprovalStore } from "./store/sqlite.ts";
import type { ApprovalStore } from "./store/store.ts";
import type { ApprovalRequest } from "./types.ts";

export interface Approvals {
  store: ApprovalStore;
  gate: ApprovalGate;
  api: ApprovalsApi;
  notifier: Notifier;
  close(): Promise<void>;
}

/** Opens the approvals store the audit settings imply. */
export function openApprovalStore(audit: AuditSettings, dataDir: string): Promise<ApprovalStore> {
  const postgres = postgresConnection(audit);
  if (postgres) return openPostgresApprovalStore(postgres);
  return openSqliteApprovalStore(join(dataDir, approvalsDatabaseFile));
}

/**
 * What notifications say of the effect: the diff, masked with the default
 * profile (a dry-run of a Secret or ConfigMap write holds its values), or
 * what a delete removes. Never the raw objects.
 */
function effectSummary(approval: ApprovalRequest, mask: MaskingEngine): string | undefined {
  const effect = approval.effect as CallEffect | undefined;
  if (approval.call.resource === "secrets") return "(the contents of Secrets are not shown)";
  if (effect?.diff) return mask.mask(effect.diff);
  if (approval.call.verb === "delete" && effect?.before) {
    const name = `${approval.call.resource}/${approval.call.name}`;
    return `deletes ${name}${approval.call.namespace ? ` in ${approval.call.namespace}` : ""}`;
  }
  return effect?.unavailable;
}

export async function openApprovals(options: {
  config: ApprovalsConfig;
  audit: AuditSettings;
  dataDir: string;
  upstream: Upstream;
  authenticator: Authenticator;
  mask: MaskingEngine;
  registry: Registry;
  log: Logger;
  live?: LiveCalls;
}): Promise<Approvals> {
  const { config, log } = options;
  const store = await openApprovalStore(options.audit, options.dataDir);
  const notifier = new Notifier({
    targets: config.notifications,
    ...(config.linkBase ? { linkBase: config.linkBase } : {}),
    registry: options.registry,
    log,
  });
  const summary = (a: ApprovalRequest) => effectSummary(a, options.mask);
  const gate = new ApprovalGate({
    store,
    upstream: options.upstream,
    replica: replicaId(join(options.dataDir, "replica.id")),
    log,
    notifier: {
      approvalRequested: (a) => notifier.notify(approvalEvent("approval.requested", a, summary(a))),
      // Decisions are announced where they are taken (the API); the gate
      // announces only what it closes itself (used, expired, cancelled).
      approvalClosed: (a) => {
        if (a.state !== "approved" && a.state !== "denied") {
          notifier.notify(approvalEvent("approval.decided", a, summary(a)));
        }
      },
    },
  });
  const recovered = await gate.recover();
  if (recovered > 0)
    log.warn({ cancelled: recovered }, "approvals: calls held before a restart were cancelled");
  const api = new ApprovalsApi({
    store,
    authenticator: options.authenticator,
    approverGroups: config.approverGroups,
    onDecided: (a) => notifier.notify(approvalEvent("approval.decided", a, summary(a))),
    onGrant: (type, grant) => notifier.notify(grantEvent(type, grant)),
    deliveries: () => notifier.deliveries(),
    ...(options.live ? { live: options.live } : {}),
  });
  // Approvals whose deadline passed while nobody held them (retry mode) are closed.
  const expiry = setInterval(() => {
    store
      .expireDue(new Date())
      .catch((err: unknown) => log.warn({ err }, "approvals: expiry failed"));
  }, 30_000);
  expiry.unref();
  // A revoked grant ends the streams and watches it let through, whichever
  // replica (or CLI) revoked it: the store tells every subscriber.
  const live = options.live;
  const unsubscribe = live
    ? store.subscribe((change) => {
        if (change.kind !== "grant") return;
        store
          .getGrant(change.id)
          .then((grant) => {
            if (grant?.revokedAt === undefined) return;
            live.endGrant(
              grant.id,
              `portcullis: grant ${grant.id} was revoked by ${grant.revokedBy ?? "someone"}${grant.revokeReason ? `: ${grant.revokeReason}` : ""}`,
            );
          })
          .catch((err: unknown) =>
            log.warn({ err, grant: change.id }, "approvals: could not read a changed grant"),
          );
      })
    : undefined;
  return {
    store,
    gate,
    api,
    notifier,
    async close() {
      clearInterval(expiry);
      unsubscribe?.();
      await notifier.close(2000);
      await store.close();
    },
  };
}
