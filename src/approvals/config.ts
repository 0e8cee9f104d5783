/**
 * The `approvals` section of the config file. The approvals store follows
 * the audit store: SQLite beside it (`<dataDir>/approvals.db`) for one
 * gateway, or the same PostgreSQL database for replicas, so a call held on
 * one replica is released by a decision taken through another.
 */
import { z } from "zod";
import { notificationsSchema } from "./notify/config.ts";

export const approvalsConfigSchema = z
  .object({
    /** Members of these groups list and read every approval and manage grants. */
    approverGroups: z.array(z.string().min(1)).min(1).default(["portcullis:approvers"]),
    /** Where notifications go when a call needs approval and when it is decided. */
    notifications: notificationsSchema.default([]),
    /** Base URL of an approver UI, for links in notifications. */
    linkBase: z.url().optional(),
  })
  .strict();
export type ApprovalsConfig = z.output<typeof approvalsConfigSchema>;
