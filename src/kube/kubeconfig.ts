import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { z } from "zod";

/** Where and how to reach the API server: what a kubeconfig context boils down to. */
export interface UpstreamTarget {
  server: string;
  caPem?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  /** Re-read on every refresh: projected service-account tokens rotate. */
  tokenFile?: string;
}

const kubeconfigSchema = z.object({
  "current-context": z.string().optional(),
  clusters: z.array(
    z.object({
      name: z.string(),
      cluster: z.object({
        server: z.string(),
        "certificate-authority": z.string().optional(),
        "certificate-authority-data": z.string().optional(),
        "insecure-skip-tls-verify": z.boolean().optional(),
      }),
    }),
  ),
  users: z.array(
    z.object({
      name: z.string(),
      user: z.object({
        token: z.string().optional(),
        tokenFile: z.string().optional(),
        "client-certificate": z.string().optional(),
        "client-certificate-data": z.string().optional(),
        "client-key": z.string().optional(),
        "client-key-data": z.string().optional(),
        exec: z.unknown().optional(),
        "auth-provider": z.unknown().optional(),
      }),
    }),
  ),
  contexts: z.array(
    z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string() }) }),
  ),
});

function inline(
  data: string | undefined,
  file: string | undefined,
  base: string,
): string | undefined {
  if (data) return Buffer.from(data, "base64").toString("utf8");
  if (file) return readFileSync(isAbsolute(file) ? file : resolve(base, file), "utf8");
  return undefined;
}

/** Reads one context of a kubeconfig file. Relative paths resolve against the file. */
export function readKubeconfig(path: string, contextName?: string): UpstreamTarget {
  const parsed = kubeconfigSchema.safeParse(parse(readFileSync(path, "utf8")));
  if (!parsed.success) {
    throw new Error(`${path}: not a kubeconfig: ${parsed.error.issues[0]?.message}`);
  }
  const config = parsed.data;
  const wanted = contextName ?? config["current-context"];
  if (!wanted) throw new Error(`${path}: no context given and no current-context set`);
  const context = config.contexts.find((c) => c.name === wanted)?.context;
  if (!context) throw new Error(`${path}: context "${wanted}" not found`);
  const cluster = config.clusters.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw new Error(`${path}: cluster "${context.cluster}" not found`);
  const user = config.users.find((u) => u.name === context.user)?.user;
  if (!user) throw new Error(`${path}: user "${context.user}" not found`);
  if (cluster["insecure-skip-tls-verify"]) {
    throw new Error(
      `${path}: cluster "${context.cluster}" sets insecure-skip-tls-verify; Portcullis verifies the API server's certificate — give certificate-authority instead`,
    );
  }
  if (user.exec !== undefined || user["auth-provider"] !== undefined) {
    throw new Error(
      `${path}: user "${context.user}" uses an exec or auth-provider plugin; give the gateway a token, tokenFile or client certificate`,
    );
  }
  const base = dirname(resolve(path));
  const target: UpstreamTarget = { server: cluster.server.replace(/\/+$/, "") };
  const caPem = inline(
    cluster["certificate-authority-data"],
    cluster["certificate-authority"],
    base,
  );
  if (caPem) target.caPem = caPem;
  const cert = inline(user["client-certificate-data"], user["client-certificate"], base);
  const key = inline(user["client-key-data"], user["client-key"], base);
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(
      `${path}: user "${context.user}" has a client certificate without its key, or a key without its certificate`,
    );
  }
  if (cert && key) {
    target.clientCertPem = cert;
    target.clientKeyPem = key;
  }
  if (user.token) target.token = user.token;
  if (user.tokenFile)
    target.tokenFile = isAbsolute(user.tokenFile) ? user.tokenFile : resolve(base, user.tokenFile);
  return target;
}

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The pod's own service account, as client-go's rest.InClusterConfig finds it. */
export function inClusterTarget(): UpstreamTarget {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error("inCluster: KUBERNETES_SERVICE_HOST/PORT are not set; not running in a pod?");
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    caPem: readFileSync(`${serviceAccountDir}/ca.crt`, "utf8"),
    tokenFile: `${serviceAccountDir}/token`,
  };
}

/** Renders a single-context kubeconfig for a client of the gateway. */
export function renderKubeconfig(options: {
  name: string;
  server: string;
  caPem: string;
  token: string;
  namespace?: string;
}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "portcullis",
        cluster: {
          server: options.server,
          "certificate-authority-data": Buffer.from(options.caPem).toString("base64"),
        },
      },
    ],
    users: [{ name: options.name, user: { token: options.token } }],
    contexts: [
      {
        name: `portcullis-${options.name}`,
        context: {
          cluster: "portcullis",
          user: options.name,
          ...(options.namespace ? { namespace: options.namespace } : {}),
        },
      },
    ],
    "current-context": `portcullis-${options.name}`,
  });
}
