/**
 * The CLI's side of the gateway's own HTTP API (`/portcullis/v1/`): the
 * caller authenticates with their kubeconfig (or --token) exactly as for
 * kubectl, so what they do is done as, and recorded as, them.
 */
import { request } from "node:https";
import type { Command } from "commander";
import { readKubeconfig } from "../kube/kubeconfig.ts";

export interface ClientOptions {
  kubeconfig?: string;
  context?: string;
  token?: string;
  output?: "table" | "json" | "yaml";
}

export function withClientOptions(command: Command): Command {
  return command
    .option("--kubeconfig <path>", "kubeconfig whose server is the gateway (default: $KUBECONFIG)")
    .option("--context <name>", "kubeconfig context")
    .option("--token <token>", "bearer token to authenticate with (overrides the kubeconfig's)");
}

/** One JSON call to the gateway's API as the kubeconfig's identity; Status errors become Errors. */
export async function call<T>(
  options: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const kubeconfig = options.kubeconfig ?? process.env.KUBECONFIG?.split(":")[0];
  if (!kubeconfig)
    throw new Error("give --kubeconfig (or set KUBECONFIG) for the gateway to talk to");
  const target = readKubeconfig(kubeconfig, options.context);
  const token = options.token ?? target.token;
  if (!token) throw new Error(`${kubeconfig}: no bearer token to authenticate with; give --token`);
  const url = new URL(`/portcullis/v1/${path}`, target.server);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const { status, text } = await new Promise<{ status: number; text: string }>(
    (resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ...(target.caPem ? { ca: target.caPem } : {}),
          headers: {
            authorization: `Bearer ${token}`,
            accept: "application/json",
            ...(payload
              ? { "content-type": "application/json", "content-length": payload.length }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
        },
      );
      req.on("error", (err) =>
        reject(new Error(`cannot reach the gateway at ${url.origin}: ${err.message}`)),
      );
      req.end(payload);
    },
  );
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (status < 200 || status >= 300) {
    const message = (parsed as { message?: string } | undefined)?.message ?? `HTTP ${status}`;
    throw new Error(message);
  }
  return parsed as T;
}
