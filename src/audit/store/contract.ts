/**
 * The audit store contract as node:test tests, run against every engine
 * (sqlite.test.ts, test/e2e/audit-postgres.test.ts). A fake `build` stands in
 * for the writer: engines never interpret bodies or frontiers.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import type { AuditStore, Blob, BuiltBatch, LogHead, RecordIndex, StoredRow } from "./store.ts";

export interface OpenedStore {
  store: AuditStore;
  /** Opens the same database again (after `store.close()`), for durability tests. */
  reopen(): Promise<AuditStore>;
  /** Removes what the test created; stores are closed first. */
  cleanup(): Promise<void>;
}

export type RecordSpec = Partial<RecordIndex> & { blobRefs?: string[] };

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest();

/** A writer stand-in: seqs from head.size, body = JSON of {seq, …index}, frontier = [size]. */
export function fakeBuild(specs: RecordSpec[], blobs: Blob[] = []): (head: LogHead) => BuiltBatch {
  return function build(head) {
    const rows = specs.map(({ blobRefs = [], ...spec }, i) => {
      const seq = head.size + i;
      const index = {
        time: "2030-01-01T00:00:00.000Z",
        kind: "request",
        requestId: `req-${seq}`,
        ...spec,
      };
      const body = JSON.stringify({ seq, ...index });
      return { seq, body, leafHash: sha256(body), index, blobRefs };
    });
    const size = head.size + rows.length;
    return { rows, blobs, head: { size, frontier: [String(size)] } };
  };
}

const records = (n: number): RecordSpec[] => Array.from({ length: n }, () => ({}));

async function appendN(store: AuditStore, n: number, batch = 500): Promise<void> {
  for (let done = 0; done < n; done += batch)
    await store.append(fakeBuild(records(Math.min(batch, n - done))));
}

async function collect(rows: AsyncIterable<StoredRow>): Promise<StoredRow[]> {
  const all: StoredRow[] = [];
  for await (const row of rows) all.push(row);
  return all;
}

/** Asserts rows are exactly seq from..to-1, each body naming its own seq. */
function assertContiguous(rows: StoredRow[], from: number, to: number): void {
  assert.deepEqual(
    rows.map((r) => r.seq),
    Array.from({ length: to - from }, (_, i) => from + i),
  );
  for (const row of rows) assert.equal(JSON.parse(row.body).seq, row.seq);
}

export function runStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  /** Runs a test body on a fresh store, closing and cleaning up whatever happens. */
  function withStore(
    title: string,
    body: (store: AuditStore, opened: OpenedStore) => Promise<void>,
  ) {
    test(title, async () => {
      const opened = await open();
      try {
        await body(opened.store, opened);
      } finally {
        await opened.store.close();
        await opened.cleanup();
      }
    });
  }

  describe(`${name} audit store contract`, () => {
    withStore("starts empty and answers ping", async (store) => {
      await store.ping();
      assert.deepEqual(await store.head(), { size: 0, frontier: [] });
      assert.equal(await store.base(), undefined);
      assert.deepEqual(await store.checkpoints(), []);
      assert.deepEqual(await collect(store.scan(0)), []);
    });

    withStore("sequential appends assign contiguous seqs", async (store) => {
      for (const n of [1, 3, 7]) await store.append(fakeBuild(records(n)));
      assertContiguous(await collect(store.scan(0)), 0, 11);
      assert.equal((await store.head()).size, 11);
    });

    withStore("concurrent appends never interleave or duplicate seqs", async (store) => {
      await Promise.all(Array.from({ length: 50 }, () => store.append(fakeBuild(records(3)))));
      assertContiguous(await collect(store.scan(0)), 0, 150);
    });

    withStore("head round-trips size and frontier", async (store) => {
      await store.append((head) => ({
        ...fakeBuild(records(2))(head),
        head: { size: 2, frontier: ["ab", "cd"] },
      }));
      assert.deepEqual(await store.head(), { size: 2, frontier: ["ab", "cd"] });
    });

    withStore("a build that throws persists nothing, and the next append works", async (store) => {
      await store.append(fakeBuild(records(2)));
      const boom = new Error("build failed");
      await assert.rejects(
        store.append(() => {
          throw boom;
        }),
        (error) => error === boom,
      );
      assert.deepEqual(await store.head(), { size: 2, frontier: ["2"] });
      await store.append(fakeBuild(records(1)));
      assertContiguous(await collect(store.scan(0)), 0, 3);
    });

    withStore("refuses a batch whose seqs do not continue the head", async (store) => {
      await store.append(fakeBuild(records(2)));
      const skipping = (head: LogHead) => fakeBuild(records(2))({ ...head, size: head.size + 1 });
      await assert.rejects(store.append(skipping), /seq 3, expected 2/);
      assert.equal((await store.head()).size, 2);
    });

    withStore("scan returns exact bodies in order, within bounds, across pages", async (store) => {
      await appendN(store, 2500);
      const all = await collect(store.scan(0));
      assertContiguous(all, 0, 2500);
      assert.equal(
        all[1234]?.body,
        fakeBuild(records(1))({ size: 1234, frontier: [] }).rows[0]?.body,
      );
      assertContiguous(await collect(store.scan(998, 1003)), 998, 1003);
      assertContiguous(await collect(store.scan(1000)), 1000, 2500);
      assertContiguous(await collect(store.scan(0, 2001)), 0, 2001);
      assert.deepEqual(await collect(store.scan(2500)), []);
    });

    withStore("leafHashes returns exactly the stored bytes", async (store) => {
      const build = fakeBuild(records(5));
      const expected = build({ size: 0, frontier: [] }).rows.map((r) => r.leafHash);
      await store.append(build);
      assert.deepEqual(await store.leafHashes(0, 5), expected);
      assert.deepEqual(await store.leafHashes(2, 4), expected.slice(2, 4));
      await assert.rejects(store.leafHashes(3, 7), RangeError);
    });

    withStore("search filters by each field, time range, limit and afterSeq", async (store) => {
      const base = { username: "u", subject: "s", verb: "get", resource: "pods", namespace: "ns" };
      await store.append(
        fakeBuild([
          {
            ...base,
            time: "2030-01-01T00:00:00.000Z",
            name: "a",
            decision: "allow",
            sessionId: "s1",
          },
          {
            ...base,
            time: "2030-01-01T00:00:01.000Z",
            username: "v",
            kind: "completion",
            status: 200,
          },
          {
            ...base,
            time: "2030-01-01T00:00:02.000Z",
            subject: "t",
            verb: "delete",
            sessionId: "s2",
          },
          { ...base, time: "2030-01-01T00:00:03.000Z", resource: "secrets", decision: "deny" },
          { ...base, time: "2030-01-01T00:00:04.000Z", namespace: "other", name: "a" },
        ]),
      );
      const seqs = async (filter: Parameters<AuditStore["search"]>[0]) =>
        (await store.search(filter)).map((r) => r.seq);
      assert.deepEqual(await seqs({}), [0, 1, 2, 3, 4]);
      assert.deepEqual(await seqs({ username: "v" }), [1]);
      assert.deepEqual(await seqs({ subject: "t" }), [2]);
      assert.deepEqual(await seqs({ verb: "delete" }), [2]);
      assert.deepEqual(await seqs({ resource: "secrets" }), [3]);
      assert.deepEqual(await seqs({ namespace: "other" }), [4]);
      assert.deepEqual(await seqs({ name: "a" }), [0, 4]);
      assert.deepEqual(await seqs({ decision: "deny" }), [3]);
      assert.deepEqual(await seqs({ sessionId: "s2" }), [2]);
      assert.deepEqual(await seqs({ requestId: "req-3" }), [3]);
      assert.deepEqual(await seqs({ kind: "completion" }), [1]);
      assert.deepEqual(await seqs({ name: "a", namespace: "ns" }), [0]);
      assert.deepEqual(
        await seqs({ from: "2030-01-01T00:00:01.000Z", to: "2030-01-01T00:00:03.000Z" }),
        [1, 2],
      );
      assert.deepEqual(await seqs({ limit: 2 }), [0, 1]);
      assert.deepEqual(await seqs({ afterSeq: 1, limit: 2 }), [2, 3]);
      const [row] = await store.search({ decision: "deny" });
      assert.equal(row?.body, (await collect(store.scan(3, 4)))[0]?.body);
    });

    withStore("stores each blob once per hash and fetches it back", async (store) => {
      const data = Buffer.from("a large response body");
      const hash = sha256(data).toString("hex");
      await store.append(
        fakeBuild([{ blobRefs: [hash] }, { blobRefs: [hash] }], [{ sha256: hash, data }]),
      );
      // The same hash again (even with other bytes, which a writer never sends) keeps the first.
      await store.append(
        fakeBuild([{ blobRefs: [hash] }], [{ sha256: hash, data: Buffer.from("x") }]),
      );
      assert.deepEqual(await store.getBlob(hash), data);
      assert.equal(await store.getBlob("0".repeat(64)), undefined);
    });

    withStore("lists checkpoints ascending and refuses a duplicate size", async (store) => {
      for (const size of [20, 5, 10]) await store.addCheckpoint({ size, note: `note ${size}\n` });
      const listed = await store.checkpoints();
      assert.deepEqual(
        listed.map(({ size, note }) => ({ size, note })),
        [5, 10, 20].map((size) => ({ size, note: `note ${size}\n` })),
      );
      for (const { createdAt } of listed) assert.ok(!Number.isNaN(Date.parse(createdAt)));
      await assert.rejects(store.addCheckpoint({ size: 10, note: "again" }));
      assert.equal((await store.checkpoints()).length, 3);
    });

    withStore("prune drops rows below the base and blobs only they referenced", async (store) => {
      const [only, shared] = [Buffer.from("only pruned"), Buffer.from("shared")];
      const [onlyHash, sharedHash] = [only, shared].map((b) => sha256(b).toString("hex"));
      const specs = records(30);
      specs[2] = { blobRefs: [onlyHash as string] };
      specs[3] = { blobRefs: [sharedHash as string] };
      specs[25] = { blobRefs: [sharedHash as string] };
      const blobs = [
        { sha256: onlyHash as string, data: only },
        { sha256: sharedHash as string, data: shared },
      ];
      await store.append(fakeBuild(specs, blobs));
      await store.prune({ size: 10, frontier: ["base"] });
      assert.deepEqual(await store.base(), { size: 10, frontier: ["base"] });
      assertContiguous(await collect(store.scan(0)), 10, 30);
      assertContiguous(await collect(store.scan(12, 14)), 12, 14);
      assert.equal((await store.leafHashes(10, 30)).length, 20);
      assert.deepEqual(
        (await store.search({ limit: 1 })).map((r) => r.seq),
        [10],
      );
      assert.equal(await store.getBlob(onlyHash as string), undefined);
      assert.deepEqual(await store.getBlob(sharedHash as string), shared);
      assert.deepEqual(await store.head(), { size: 30, frontier: ["30"] });
      await assert.rejects(store.prune({ size: 5, frontier: [] }), RangeError);
      await assert.rejects(store.prune({ size: 31, frontier: [] }), RangeError);
    });

    withStore("close then reopen keeps everything", async (store, opened) => {
      const data = Buffer.from("kept");
      const hash = sha256(data).toString("hex");
      await appendN(store, 40, 10);
      await store.append(fakeBuild([{ blobRefs: [hash] }], [{ sha256: hash, data }]));
      await store.addCheckpoint({ size: 41, note: "checkpoint\n" });
      await store.prune({ size: 5, frontier: ["b"] });
      await store.close();
      const again = await opened.reopen();
      try {
        assert.deepEqual(await again.head(), { size: 41, frontier: ["41"] });
        assertContiguous(await collect(again.scan(0)), 5, 41);
        assert.deepEqual(await again.base(), { size: 5, frontier: ["b"] });
        assert.deepEqual(
          (await again.checkpoints()).map((c) => c.size),
          [41],
        );
        assert.deepEqual(await again.getBlob(hash), data);
        await again.append(fakeBuild(records(1)));
        assert.equal((await again.head()).size, 42);
      } finally {
        await again.close();
      }
    });
  });
}
