/**
 * Realistic audit records for tests and benchmarks — request/completion pairs
 * of agents and people reading, writing, being refused and masked — written
 * through the real writer into a real SQLite store with a real signer.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { pino } from "pino";
import { type LoadedSigner, loadOrCreateSigner } from "../../src/audit/keys.ts";
import type { AuditRecord, CompletionRecord, RequestRecord } from "../../src/audit/record.ts";
import { openSqliteStore } from "../../src/audit/store/sqlite.ts";
import type { AuditStore, Blob } from "../../src/audit/store/store.ts";
import { AuditWriter } from "../../src/audit/writer.ts";

export interface GeneratedRecord {
  record: AuditRecord;
  blobs: Blob[];
}

export interface GenerateOptions {
  /** Time of the first record; each next one is `stepMs` later. */
  start?: Date;
  stepMs?: number;
  /** Every n-th completion keeps its body as a blob (0: never). */
  blobEvery?: number;
}

const verbs = ["get", "list", "watch", "create", "patch", "delete"] as const;
const resources = ["pods", "configmaps", "deployments", "services", "secrets"] as const;
const users = ["agent:deployer", "agent:triage-bot", "agent:ci", "alice@example.com"] as const;

function requestIdOf(pair: number): string {
  return `req-${pair.toString(36)}-${(pair * 2654435761) % 2 ** 32}`;
}

function requestRecord(pair: number, time: string): RequestRecord {
  const username = users[pair % users.length] as string;
  const agent = username.startsWith("agent:");
  const verb = verbs[pair % verbs.length] as string;
  const resource = resources[(pair >> 2) % resources.length] as string;
  const namespace = `team-${pair % 7}`;
  const name = verb === "list" || verb === "watch" ? "" : `${resource.slice(0, -1)}-${pair % 997}`;
  const denied = pair % 23 === 5;
  const record: RequestRecord = {
    kind: "request",
    time,
    requestId: requestIdOf(pair),
    identity: {
      subject: agent ? username.slice(6) : `oidc|${pair % 3}`,
      issuer: agent ? "portcullis" : "https://idp.example.com",
      kind: agent ? "agent" : "human",
      username,
      groups: agent ? ["portcullis:agents"] : ["platform", "oncall"],
      method: agent ? "agent-token" : "oidc",
      ...(agent ? { tokenId: `tok-${pair % users.length}` } : {}),
    },
    source: {
      address: `10.0.${pair % 4}.${pair % 250}`,
      userAgent: "kubectl/v1.37.0 (linux/amd64)",
    },
    session: {
      id: `s-${Math.floor(pair / 40)}`,
      invocation: `inv-${pair}`,
      command: `kubectl ${verb}`,
    },
    request: {
      method:
        verb === "create"
          ? "POST"
          : verb === "patch"
            ? "PATCH"
            : verb === "delete"
              ? "DELETE"
              : "GET",
      path: `/api/v1/namespaces/${namespace}/${resource}${name ? `/${name}` : ""}`,
      verb,
      isResourceRequest: true,
      apiGroup: resource === "deployments" ? "apps" : "",
      apiVersion: "v1",
      resource,
      subresource: "",
      namespace,
      name,
    },
    level: resource === "secrets" ? "Metadata" : "RequestResponse",
    decision: denied
      ? { action: "deny", rule: "no-deletes-in-prod", reason: "deleting in team-5 needs approval" }
      : { action: "allow", rule: "default" },
  };
  if (pair % 50 === 7) record.approvals = [`approval-${pair}:bob@example.com`];
  return record;
}

function completionRecord(pair: number, time: string, blob: boolean): GeneratedRecord {
  const denied = pair % 23 === 5;
  const failed = pair % 97 === 3;
  const record: CompletionRecord = {
    kind: "completion",
    time,
    requestId: requestIdOf(pair),
    outcome: denied ? "refused" : failed ? "failed" : "completed",
    status: denied ? 403 : failed ? 502 : 200,
    bytes: 1200 + (pair % 800),
    durationMs: 3 + (pair % 40) / 8,
  };
  if (failed) record.error = { code: "upstream_unavailable", message: "upstream did not answer" };
  if (pair % 11 === 0) record.masked = [{ detector: "card", path: "data.payment", count: 1 }];
  const text = `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm-${pair}","namespace":"team-${pair % 7}","resourceVersion":"${1000 + pair}"},"data":{"payment":"[masked:card]","region":"eu-west-1"}}`;
  const data = Buffer.from(blob ? text.repeat(8) : text);
  const sha256 = createHash("sha256").update(data).digest("hex");
  if (!denied) {
    record.body = blob
      ? { contentType: "application/json", size: data.length, sha256, blob: true }
      : { contentType: "application/json", size: data.length, sha256, text };
  }
  return { record, blobs: blob && !denied ? [{ sha256, data }] : [] };
}

/** Record `index` of a generated log: even indexes are requests, odd their completions. */
export function generatedRecord(index: number, options: GenerateOptions = {}): GeneratedRecord {
  const start = (options.start ?? new Date("2030-01-01T00:00:00Z")).getTime();
  const time = new Date(start + index * (options.stepMs ?? 1000)).toISOString();
  const pair = Math.floor(index / 2);
  if (index % 2 === 0) return { record: requestRecord(pair, time), blobs: [] };
  const blobEvery = options.blobEvery ?? 0;
  return completionRecord(pair, time, blobEvery > 0 && pair % blobEvery === 0);
}

export interface FilledStore {
  store: AuditStore;
  writer: AuditWriter;
  signer: LoadedSigner;
}

export interface FilledLog extends FilledStore {
  path: string;
}

/** Opens a writer with a fresh signer in `dir` (key under dir/audit), checkpointing every `checkpointEvery`. */
export async function openTestWriter(
  store: AuditStore,
  dir: string,
  checkpointEvery = 100,
): Promise<{ writer: AuditWriter; signer: LoadedSigner }> {
  const signer = loadOrCreateSigner(join(dir, "audit"));
  const writer = await AuditWriter.open({
    store,
    signer,
    checkpointEveryRecords: checkpointEvery,
    checkpointEverySeconds: 3600,
    maxBatch: 500,
    log: pino({ level: "silent" }),
  });
  return { writer, signer };
}

/** Writes `count` generated records through the writer, `window` in flight at once (group commit). */
export async function writeRecords(
  writer: AuditWriter,
  count: number,
  options: GenerateOptions & { first?: number; window?: number } = {},
): Promise<void> {
  const first = options.first ?? 0;
  const window = options.window ?? 50;
  for (let done = 0; done < count; done += window) {
    const pending: Promise<number>[] = [];
    for (let i = done; i < Math.min(count, done + window); i++) {
      const { record, blobs } = generatedRecord(first + i, options);
      pending.push(writer.record(record, blobs));
    }
    await Promise.all(pending);
  }
}

export interface FillOptions extends GenerateOptions {
  checkpointEvery?: number;
  /** Sign a checkpoint of the whole log at the end (default true). */
  finalCheckpoint?: boolean;
}

/** Fills `store` with `count` generated records through the real writer (key under dir/audit). */
export async function fillLog(
  store: AuditStore,
  dir: string,
  count: number,
  options: FillOptions = {},
): Promise<FilledStore> {
  const { writer, signer } = await openTestWriter(store, dir, options.checkpointEvery);
  await writeRecords(writer, count, options);
  if (options.finalCheckpoint !== false) await writer.checkpoint();
  return { store, writer, signer };
}

/** A SQLite log in `dir`/audit.db with `count` records. */
export async function fillSqliteLog(
  dir: string,
  count: number,
  options: FillOptions = {},
): Promise<FilledLog> {
  const path = join(dir, "audit.db");
  const filled = await fillLog(await openSqliteStore(path), dir, count, options);
  return { ...filled, path };
}
