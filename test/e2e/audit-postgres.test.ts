/**
 * The audit store contract against a real PostgreSQL server (started here,
 * thrown away after), plus what only a shared server has: outages and
 * several replicas appending to one log.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fakeBuild, runStoreContract } from "../../src/audit/store/contract.ts";
import { openPostgresStore } from "../../src/audit/store/postgres.ts";
import type { AuditStore } from "../../src/audit/store/store.ts";
import { isPortcullisError } from "../../src/errors.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

let server: TestPostgres;
let schemas = 0;

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.destroy();
});

/** Each test gets its own schema: isolation without a server per test. */
function openInFreshSchema() {
  const schema = `contract_${process.pid}_${schemas++}`;
  const options = { connectionString: server.connectionString, schema, connectTimeoutMs: 1000 };
  return { schema, open: () => openPostgresStore(options) };
}

runStoreContract("postgres", async () => {
  const { open } = openInFreshSchema();
  return { store: await open(), reopen: open, cleanup: async () => {} };
});

async function seqs(store: AuditStore): Promise<number[]> {
  const all: number[] = [];
  for await (const row of store.scan(0)) {
    assert.equal(JSON.parse(row.body).seq, row.seq);
    all.push(row.seq);
  }
  return all;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("postgres audit store with a shared server", () => {
  test("append fails fast while the server is down and works again when it is back", async () => {
    const store = await openInFreshSchema().open();
    try {
      await store.append(fakeBuild([{}, {}]));
      // Appends in flight when the server goes away must settle, not hang.
      const inFlight = Array.from({ length: 10 }, () => store.append(fakeBuild([{}])));
      await server.stop();
      await Promise.allSettled(inFlight);
      const started = Date.now();
      await assert.rejects(
        store.append(fakeBuild([{}])),
        (error) => isPortcullisError(error) && error.code === "audit_unavailable",
      );
      await assert.rejects(store.ping());
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms to fail`);
      await server.start();
      await store.append(fakeBuild([{}]));
      // Whatever committed before the outage, the log has no gap and no duplicate.
      const head = await store.head();
      assert.deepEqual(await seqs(store), range(head.size));
    } finally {
      await server.start();
      await store.close();
    }
  });

  test("two replicas appending concurrently produce one gap-free sequence", async () => {
    const { open } = openInFreshSchema();
    const replicas = [await open(), await open()];
    try {
      const batchSizes = Array.from({ length: 25 }, (_, i) => 1 + (i % 4));
      await Promise.all(
        replicas.flatMap((replica) =>
          batchSizes.map((n) => replica.append(fakeBuild(Array(n).fill({})))),
        ),
      );
      const expected = 2 * batchSizes.reduce((a, b) => a + b);
      assert.deepEqual(await replicas[0]?.head(), { size: expected, frontier: [String(expected)] });
      assert.deepEqual(await seqs(replicas[1] as AuditStore), range(expected));
    } finally {
      for (const replica of replicas) await replica.close();
    }
  });
});
