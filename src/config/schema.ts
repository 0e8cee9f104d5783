import { z } from "zod";
import { approvalsConfigSchema } from "../approvals/config.ts";
import { authenticationSchema } from "../identity/schema.ts";
import { maskingConfigSchema } from "../masking/config.ts";
import { secretRefSchema } from "./secret.ts";

const portSchema = z.number().int().min(0).max(65535);

const listenSchema = z
  .object({
    address: z.string().default("127.0.0.1"),
    port: portSchema.default(8443),
    /** Serving certificate; without it the gateway issues one from its own CA. */
    tls: z
      .object({
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        /** Names and addresses the generated serving certificate is valid for. */
        hosts: z.array(z.string().min(1)).default(["localhost", "127.0.0.1", "::1"]),
      })
      .strict()
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
        message: "certFile and keyFile must be given together",
      })
      .default({ hosts: ["localhost", "127.0.0.1", "::1"] }),
    /** The address clients use, written into generated kubeconfigs. */
    publicUrl: z.url().optional(),
  })
  .strict();

const upstreamSchema = z
  .object({
    /** Path of a kubeconfig file; the context below (or its current-context) is used. */
    kubeconfig: z.string().optional(),
    context: z.string().optional(),
    /** Use the pod's service account (KUBERNETES_SERVICE_HOST, the mounted token and CA). */
    inCluster: z.boolean().default(false),
    /** Overrides the kubeconfig's credential with a bearer token from env or file. */
    token: secretRefSchema.optional(),
    /** Upper bound on idle keep-alive sockets to the API server. */
    maxSockets: z.number().int().positive().default(256),
  })
  .strict()
  .refine((u) => !(u.inCluster && u.kubeconfig), {
    message: "choose either inCluster or kubeconfig, not both",
  });

const auditSchema = z
  .object({
    /** Where the log lives: SQLite (default, one gateway) or PostgreSQL (replicas share it). */
    store: z
      .union([
        z.object({ sqlite: z.object({ path: z.string().min(1).optional() }).strict() }).strict(),
        z
          .object({
            postgres: z
              .object({
                connectionString: z.union([z.string().min(1), secretRefSchema]),
                schema: z
                  .string()
                  .regex(/^[a-z_][a-z0-9_]*$/)
                  .default("portcullis"),
              })
              .strict(),
          })
          .strict(),
      ])
      .default({ sqlite: {} }),
    /** Level for writes no policy rule sets: Metadata, Request or RequestResponse. */
    level: z.enum(["Metadata", "Request", "RequestResponse"]).default("RequestResponse"),
    /**
     * Level for reads (get, list, watch) no policy rule sets. Metadata by
     * default: which objects an agent read is always recorded; keeping every
     * LIST and watch body is costly and rarely what an examiner asks for.
     */
    readLevel: z.enum(["Metadata", "Request", "RequestResponse"]).default("Metadata"),
    /** Bodies up to this size are kept inside the record; larger ones as blobs. */
    maxInlineBytes: z
      .number()
      .int()
      .min(0)
      .max(16 << 20)
      .default(64 << 10),
    /** At most this much of each response is kept (watches never end). */
    maxResponseBytes: z
      .number()
      .int()
      .min(0)
      .max(256 << 20)
      .default(1 << 20),
    /**
     * At most this much of each exec or attach session's recording is kept;
     * past it the recording says where it stopped and the session goes on
     * unrecorded (the completion record marks it truncated). Bounds what a
     * session that prints without end costs the gateway in memory.
     */
    maxRecordingBytes: z
      .number()
      .int()
      .min(64 << 10)
      .max(1 << 30)
      .default(32 << 20),
    checkpoint: z
      .object({
        everyRecords: z.number().int().positive().default(1000),
        everySeconds: z.number().positive().max(3600).default(10),
      })
      .strict()
      .default({ everyRecords: 1000, everySeconds: 10 }),
    /**
     * The checkpoint signing key (a note signer key, `PRIVATE+KEY+…`). Default:
     * created on first start in <dataDir>/audit/. Replicas sharing one
     * PostgreSQL log must share the key.
     */
    signingKey: secretRefSchema.optional(),
    retention: z
      .object({
        /** Records older than this are pruned (whole ranges below a checkpoint). */
        maxAgeDays: z.number().positive().optional(),
        /** How often pruning runs. */
        everyMinutes: z.number().positive().default(60),
      })
      .strict()
      .default({ everyMinutes: 60 }),
  })
  .strict();

const policySchema = z
  .object({
    /** The shipped baseline guardrails (FFIEC-minded); on unless turned off. */
    baseline: z.boolean().default(true),
    /** Policy files (YAML), evaluated before the baseline; hot-reloaded on change. */
    files: z.array(z.string().min(1)).default([]),
  })
  .strict();

const drainSchema = z
  .object({
    /** How long shutdown waits for in-flight requests before closing them. */
    timeoutSeconds: z.number().positive().max(600).default(25),
  })
  .strict();

export const configSchema = z
  .object({
    /** Where the gateway keeps its CA, agent tokens and (later) its audit log. */
    dataDir: z.string().default(".portcullis"),
    listen: listenSchema.default({
      address: "127.0.0.1",
      port: 8443,
      tls: { hosts: ["localhost", "127.0.0.1", "::1"] },
    }),
    /** The Kubernetes API server. Absent: a local control plane is started (sandbox). */
    upstream: upstreamSchema.optional(),
    authentication: authenticationSchema.default(authenticationSchema.parse({})),
    audit: auditSchema.default(auditSchema.parse({})),
    policy: policySchema.default({ baseline: true, files: [] }),
    /** Response masking: profiles the policy names, custom detectors, the hash key. */
    masking: maskingConfigSchema.default(maskingConfigSchema.parse({})),
    /** Just-in-time approvals: who approves, notifications. */
    approvals: approvalsConfigSchema.default(approvalsConfigSchema.parse({})),
    logging: z
      .object({
        level: z
          .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
          .default("info"),
      })
      .strict()
      .default({ level: "info" }),
    shutdown: drainSchema.default({ timeoutSeconds: 25 }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type UpstreamSettings = z.infer<typeof upstreamSchema>;
export type AuditSettings = z.infer<typeof auditSchema>;
export type PolicySettings = z.infer<typeof policySchema>;
