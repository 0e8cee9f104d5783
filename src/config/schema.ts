import { z } from "zod";
import { authenticationSchema } from "../identity/schema.ts";
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
