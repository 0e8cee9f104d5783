/**
 * A real audit log for the query and export tests: a SQLite store in a
 * temporary directory filled through the real writer with the records a
 * gateway makes for a few agents and a person, several sessions and kubectl
 * invocations, refusals by policy and by RBAC, masking, bodies inline and in
 * blobs, and one call that never completed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { bodyRef } from "./body.ts";
import { loadOrCreateSigner } from "./keys.ts";
import type { AuditLevel, BodyRef, CompletionRecord, RequestRecord } from "./record.ts";
import { openSqliteStore } from "./store/sqlite.ts";
import type { AuditStore, Blob } from "./store/store.ts";
import { AuditWriter } from "./writer.ts";

export const t0 = Date.parse("2030-01-01T10:00:00.000Z");
export const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();

export interface CallSpec {
  id: string;
  at: number;
  who: "deployer" | "reader" | "alice";
  session: string;
  invocation?: string;
  command?: string;
  method?: string;
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  path?: string;
  decision?: "allow" | "deny";
  level?: AuditLevel;
  requestBody?: string;
  /** Completion; omitted for a call that never completed. */
  status?: number;
  outcome?: CompletionRecord["outcome"];
  responseBody?: string;
  masked?: CompletionRecord["masked"];
  error?: CompletionRecord["error"];
}

const identities = {
  deployer: { subject: "deployer", issuer: "portcullis", kind: "agent", method: "agent-token" },
  reader: { subject: "reader", issuer: "portcullis", kind: "agent", method: "agent-token" },
  alice: { subject: "alice-sub", issuer: "https://idp.example", kind: "human", method: "oidc" },
} as const;

function username(who: CallSpec["who"]): string {
  return who === "alice" ? "alice@example.com" : `portcullis:agent:${who}`;
}

/** A body as the gateway keeps it: inline up to `inlineLimit` bytes, else a blob (small limits, so tests get both). */
function kept(text: string | undefined, inlineLimit: number): { ref?: BodyRef; blobs: Blob[] } {
  if (!text) return { blobs: [] };
  const { ref, blob } = bodyRef(Buffer.from(text), text.length, "application/json", inlineLimit);
  return { ref, blobs: blob ? [blob] : [] };
}

export function requestOf(spec: CallSpec): { record: RequestRecord; blobs: Blob[] } {
  const ns = spec.namespace ?? "";
  const isResource = spec.resource !== "";
  const path =
    spec.path ??
    `/api/v1${ns ? `/namespaces/${ns}` : ""}/${spec.resource}${spec.name ? `/${spec.name}` : ""}${spec.subresource ? `/${spec.subresource}` : ""}`;
  const record: RequestRecord = {
    kind: "request",
    time: at(spec.at),
    requestId: spec.id,
    identity: { ...identities[spec.who], username: username(spec.who), groups: ["g1", "g2"] },
    source: { address: "::ffff:127.0.0.1", userAgent: "kubectl/v1.37.2 (linux/amd64)" },
    session: {
      id: spec.session,
      ...(spec.invocation ? { invocation: spec.invocation } : {}),
      ...(spec.command ? { command: spec.command } : {}),
    },
    request: {
      method: spec.method ?? "GET",
      path,
      verb: spec.verb,
      isResourceRequest: isResource,
      apiGroup: "",
      apiVersion: isResource ? "v1" : "",
      resource: spec.resource,
      subresource: spec.subresource ?? "",
      namespace: ns,
      name: spec.name ?? "",
    },
    level: spec.level ?? "RequestResponse",
    decision: {
      action: spec.decision ?? "allow",
      rule: spec.decision === "deny" ? "no-secrets" : "default",
    },
  };
  const { ref, blobs } = kept(spec.requestBody, 64);
  if (ref) record.body = ref;
  return { record, blobs };
}

export function completionOf(spec: CallSpec): { record: CompletionRecord; blobs: Blob[] } {
  const record: CompletionRecord = {
    kind: "completion",
    time: at(spec.at + 0.25),
    requestId: spec.id,
    outcome: spec.outcome ?? "completed",
    status: spec.status ?? 200,
    bytes: spec.responseBody?.length ?? 0,
    durationMs: 12.5,
    ...(spec.masked ? { masked: spec.masked } : {}),
    ...(spec.error ? { error: spec.error } : {}),
  };
  const { ref, blobs } = kept(spec.responseBody, 200);
  if (ref) record.body = ref;
  return { record, blobs };
}

const cm = (name: string, data: Record<string, string>) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "team-a" },
    data,
  });

/** Two agent sessions, one human session; times in seconds after t0. */
export const calls: CallSpec[] = [
  {
    id: "r1",
    at: 0,
    who: "deployer",
    session: "s-deploy",
    invocation: "k1",
    command: "kubectl create configmap",
    method: "POST",
    verb: "create",
    resource: "configmaps",
    namespace: "team-a",
    requestBody: cm("app", { k: "v" }),
    status: 201,
    responseBody: cm("app", { k: "v" }),
  },
  {
    id: "r2",
    at: 1,
    who: "reader",
    session: "s-read",
    invocation: "k9",
    command: "kubectl get",
    verb: "list",
    resource: "pods",
    namespace: "team-a",
    status: 200,
    responseBody: JSON.stringify({
      kind: "PodList",
      apiVersion: "v1",
      items: [],
      note: "x".repeat(300),
    }),
  },
  {
    id: "r3",
    at: 2,
    who: "deployer",
    session: "s-deploy",
    invocation: "k2",
    command: "kubectl get",
    verb: "get",
    resource: "configmaps",
    namespace: "team-a",
    name: "app",
    status: 200,
    responseBody: cm("app", { card: "****" }),
    masked: [{ detector: "card", path: "data.card", count: 1 }],
  },
  {
    id: "r4",
    at: 3,
    who: "reader",
    session: "s-read",
    invocation: "k10",
    command: "kubectl get",
    verb: "get",
    resource: "secrets",
    namespace: "team-a",
    name: "db",
    decision: "deny",
    level: "Metadata",
    status: 403,
    outcome: "refused",
    error: {
      code: "policy_denied",
      message: 'portcullis: denied by rule "no-secrets", with a comma',
    },
  },
  {
    id: "r5",
    at: 4,
    who: "deployer",
    session: "s-deploy",
    invocation: "k3",
    command: "kubectl apply",
    method: "PATCH",
    verb: "patch",
    resource: "configmaps",
    namespace: "team-a",
    name: "app",
    requestBody: JSON.stringify({ data: { k: "v2" } }),
    status: 200,
    responseBody: cm("app", { k: "v2" }),
  },
  {
    id: "r6",
    at: 5,
    who: "alice",
    session: "s-alice",
    verb: "list",
    resource: "nodes",
    status: 403,
    responseBody: JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: 'nodes is forbidden: User "alice@example.com" cannot list resource "nodes"',
      reason: "Forbidden",
      code: 403,
    }),
  },
  {
    id: "r7",
    at: 6,
    who: "deployer",
    session: "s-deploy",
    invocation: "k4",
    command: "kubectl delete",
    method: "DELETE",
    verb: "delete",
    resource: "configmaps",
    namespace: "team-a",
    name: "app",
    status: 200,
  },
  {
    id: "r8",
    at: 7,
    who: "deployer",
    session: "s-deploy",
    invocation: "k5",
    command: "kubectl get",
    verb: "get",
    resource: "",
    path: "/version",
    status: 200,
    responseBody: JSON.stringify({ major: "1", minor: "37" }),
  },
  {
    id: "r9",
    at: 3600,
    who: "deployer",
    session: "s-deploy-2",
    invocation: "k6",
    command: "kubectl logs",
    verb: "get",
    resource: "pods",
    subresource: "log",
    namespace: "team-a",
    name: "web-0",
  },
];

export interface FilledStore {
  store: AuditStore;
  dir: string;
  close(): Promise<void>;
}

/** Writes the calls' records interleaved as a gateway would: a request, then earlier calls' completions. */
export async function openFilledStore(specs: CallSpec[] = calls): Promise<FilledStore> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-query-"));
  const store = await openSqliteStore(join(dir, "audit.db"));
  const writer = await AuditWriter.open({
    store,
    signer: loadOrCreateSigner(join(dir, "keys")),
    checkpointEveryRecords: 1000,
    checkpointEverySeconds: 60,
    maxBatch: 100,
    log: pino({ level: "silent" }),
  });
  let pending: CallSpec | undefined;
  for (const spec of specs) {
    const request = requestOf(spec);
    await writer.record(request.record, request.blobs);
    if (pending?.status !== undefined) {
      const completion = completionOf(pending);
      await writer.record(completion.record, completion.blobs);
    }
    pending = spec;
  }
  if (pending?.status !== undefined) {
    const completion = completionOf(pending);
    await writer.record(completion.record, completion.blobs);
  }
  await writer.close();
  return {
    store,
    dir,
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
