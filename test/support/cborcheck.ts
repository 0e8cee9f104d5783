/**
 * The CBOR check (test/cluster/tools/cmd/cborcheck): k8s.io/apimachinery's own
 * CBOR serializer, strict, decoding what Portcullis encodes the way client-go
 * does, and encoding JSON the way kube-apiserver does for byte comparisons.
 */
import { spawn } from "node:child_process";
import { buildToolsCommand } from "./go-tools.ts";

export { hasGo } from "./go-tools.ts";

export interface CborCheckRun {
  code: number;
  stdout: Buffer;
  stderr: string;
}

async function runCborCheck(mode: string, input: Uint8Array | string): Promise<CborCheckRun> {
  const binary = await buildToolsCommand("cborcheck");
  return new Promise((resolvePromise, reject) => {
    const child = spawn(binary, [mode], { stdio: ["pipe", "pipe", "pipe"], timeout: 60_000 });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      resolvePromise({ code: code ?? -1, stdout: Buffer.concat(stdout), stderr }),
    );
    child.stdin.end(input);
  });
}

/** Decodes one CBOR object as a dynamic and a typed client would; returns it as JSON, or throws. */
export async function decodeWithKubernetes(encoded: Uint8Array): Promise<unknown> {
  const run = await runCborCheck("object", encoded);
  if (run.code !== 0) throw new Error(run.stderr.trim());
  return JSON.parse(run.stdout.toString("utf8"));
}

/** Decodes a CBOR Sequence of watch events as client-go's watch decoder would. */
export async function decodeWatchWithKubernetes(
  stream: Uint8Array,
): Promise<{ type: string; object: unknown }[]> {
  const run = await runCborCheck("watch", stream);
  if (run.code !== 0) throw new Error(run.stderr.trim());
  const lines = run.stdout.toString("utf8").split("\n").filter(Boolean);
  return lines.map((line) => JSON.parse(line) as { type: string; object: unknown });
}

/** What kube-apiserver's CBOR serializer writes for this JSON object (deterministic mode). */
export async function encodeWithKubernetes(json: string): Promise<Uint8Array> {
  const run = await runCborCheck("encode", json);
  if (run.code !== 0) throw new Error(run.stderr.trim());
  return new Uint8Array(run.stdout);
}

/** What kube-apiserver's watch encoder writes for these events (deterministic mode). */
export async function encodeWatchWithKubernetes(
  events: readonly { type: string; object: unknown }[],
): Promise<Uint8Array> {
  const lines = events.map((event) => `${JSON.stringify(event)}\n`).join("");
  const run = await runCborCheck("encode-watch", lines);
  if (run.code !== 0) throw new Error(run.stderr.trim());
  return new Uint8Array(run.stdout);
}

/** Decodes one object, reporting failure instead of throwing, for tests that expect a refusal. */
export function checkWithKubernetes(encoded: Uint8Array): Promise<CborCheckRun> {
  return runCborCheck("object", encoded);
}
