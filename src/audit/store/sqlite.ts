/**
 * The embedded audit store: one SQLite file (WAL, synchronous=FULL) owned by
 * a worker thread (sqlite-worker.ts), so fsyncs never stall the event loop.
 * Appends are serialized here, one in flight: the worker reads the head, this
 * thread runs `build`, the worker commits the rows if the head has not moved.
 */
import { Worker } from "node:worker_threads";
import { PortcullisError } from "../../errors.ts";
import { assertAllLeaves, assertBatchFollows, scanPageSize } from "./engine-rules.ts";
import type {
  SqliteOps,
  SqliteRequest,
  SqliteResponse,
  WireBatch,
  WorkerConfig,
} from "./sqlite-worker.ts";
import type { AuditStore, BuiltBatch, LogHead, StoredRow } from "./store.ts";

export interface SqliteStoreOptions {
  /** How long a write waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
}

const sqliteConstraint = 19;

type Call = <K extends keyof SqliteOps>(
  op: K,
  args: Parameters<SqliteOps[K]>,
  transfer?: ArrayBuffer[],
) => Promise<ReturnType<SqliteOps[K]>>;

interface DatabaseThread {
  call: Call;
  terminate(): Promise<void>;
}

/** Database failures (locked, I/O, disk full) mean "unavailable"; constraint violations are bugs. */
function toError(reply: Extract<SqliteResponse, { ok: false }>): Error {
  if (reply.name === "RangeError") return new RangeError(reply.message);
  if (reply.errcode === undefined || (reply.errcode & 0xff) === sqliteConstraint)
    return new Error(`audit store (sqlite): ${reply.message}`);
  return new PortcullisError("audit_unavailable", `audit store unavailable: ${reply.message}`, {
    detail: `sqlite result code ${reply.errcode}`,
  });
}

function startDatabaseThread(config: WorkerConfig, onExit: () => void): Promise<DatabaseThread> {
  const worker = new Worker(new URL("./sqlite-worker.ts", import.meta.url), { workerData: config });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  function failAll(error: Error) {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  }
  worker.on("error", failAll);
  worker.on("exit", (code) => {
    failAll(new PortcullisError("audit_unavailable", `audit store thread exited (${code})`));
    onExit();
  });
  const call: Call = (op, args, transfer = []) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, op, args } satisfies SqliteRequest, transfer);
    });
  return new Promise((resolve, reject) => {
    // Until the thread says it opened the database, a crash means open failed.
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`audit store thread exited (${code})`)));
    worker.on("message", function reply(message: SqliteResponse) {
      if (message.id === 0) {
        // From here on, keep the process alive only while a call waits on the thread.
        worker.unref();
        if (message.ok) resolve({ call, terminate: () => worker.terminate().then(() => {}) });
        else worker.terminate().finally(() => reject(toError(message)));
        return;
      }
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (pending.size === 0) worker.unref();
      if (message.ok) waiter?.resolve(message.value);
      else waiter?.reject(toError(message));
    });
  });
}

/** Copies into buffers this thread owns outright, so they can be transferred (Buffers may share a pool). */
function toWire(batch: BuiltBatch): { wire: WireBatch; transfer: ArrayBuffer[] } {
  const leafHashes = new Uint8Array(batch.rows.length * 32);
  const rows = batch.rows.map(({ leafHash, ...row }, i) => {
    leafHashes.set(leafHash, i * 32);
    return row;
  });
  const blobs = batch.blobs.map((blob) => ({
    sha256: blob.sha256,
    data: new Uint8Array(blob.data),
  }));
  const transfer = [leafHashes.buffer, ...blobs.map((blob) => blob.data.buffer)];
  return { wire: { rows, leafHashes, blobs, head: batch.head }, transfer };
}

export async function openSqliteStore(
  path: string,
  options: SqliteStoreOptions = {},
): Promise<AuditStore> {
  const config: WorkerConfig = { path, busyTimeoutMs: options.busyTimeoutMs ?? 5000 };
  let thread: Promise<DatabaseThread> | undefined;
  let closed = false;
  // A crashed thread is replaced on the next call, so the store heals itself.
  function connect(): Promise<DatabaseThread> {
    if (thread) return thread;
    const started: Promise<DatabaseThread> = startDatabaseThread(config, function forget() {
      if (thread === started) thread = undefined;
    });
    thread = started;
    started.catch(function forget() {
      if (thread === started) thread = undefined;
    });
    return started;
  }
  await connect();
  const call: Call = async (op, args, transfer) => {
    if (closed) throw new Error("audit store is closed");
    return (await connect()).call(op, args, transfer);
  };

  let appends: Promise<unknown> = Promise.resolve();
  // The head this process last committed: one thread round trip per append
  // instead of two. The worker still checks it against the file, so another
  // process writing the same file only costs a re-read and a rebuild.
  let knownHead: LogHead | undefined;
  async function appendOnce(build: (head: LogHead) => BuiltBatch): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const head = knownHead ?? (await call("head", []));
      knownHead = undefined;
      const batch = build(head);
      assertBatchFollows(head, batch);
      const { wire, transfer } = toWire(batch);
      if ((await call("commit", [head, wire], transfer)) === "committed") {
        knownHead = batch.head;
        return;
      }
    }
    throw new PortcullisError("audit_unavailable", "audit log head keeps moving: another writer?");
  }

  return {
    engine: "sqlite",
    append(build) {
      const done = appends.then(() => appendOnce(build));
      appends = done.catch(() => {});
      return done;
    },
    head: () => call("head", []),
    addCheckpoint: ({ size, note }) =>
      call("addCheckpoint", [size, note, new Date().toISOString()]),
    checkpoints: () => call("checkpoints", []),
    async *scan(from: number, to = Number.MAX_SAFE_INTEGER): AsyncGenerator<StoredRow> {
      for (let next = from; next < to; ) {
        const page = await call("scan", [next, to, scanPageSize]);
        yield* page;
        if (page.length < scanPageSize) return;
        next = (page.at(-1)?.seq ?? next) + 1;
      }
    },
    async leafHashes(from, to) {
      const packed = Buffer.from((await call("leafHashes", [from, to])).buffer);
      assertAllLeaves(from, to, packed.length / 32);
      return Array.from({ length: to - from }, (_, i) => packed.subarray(i * 32, i * 32 + 32));
    },
    search: (filter) => call("search", [filter]),
    async getBlob(sha256) {
      const data = await call("getBlob", [sha256]);
      return data && Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    },
    prune: (base) => call("prune", [base]),
    base: () => call("base", []),
    ping: () => call("ping", []),
    async close() {
      if (closed) return;
      await appends;
      closed = true;
      const running = await thread?.catch(() => undefined);
      await running?.call("close", []).catch(() => {});
      await running?.terminate();
    },
  };
}
