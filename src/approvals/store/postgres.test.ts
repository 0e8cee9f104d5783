/**
 * The approvals store contract against a real PostgreSQL server (started
 * here, thrown away after; see test/support/postgres.ts), plus what only a
 * shared server has: a LISTEN connection that drops, and the time a decision
 * on one replica takes to reach a subscriber on another.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { startPostgres, type TestPostgres } from "../../../test/support/postgres.ts";
import { runApprovalStoreContract } from "./contract.ts";
import { approve, at, changeOf, newApproval, t0, watchChanges } from "./contract-support.ts";
import { openPostgresApprovalStore } from "./postgres.ts";

let server: TestPostgres;
let schemas = 0;

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.destroy();
});

/** Two replicas (two pools, two listeners) on a schema of their own. */
async function openReplicas() {
  const schema = `approvals_${process.pid}_${schemas++}`;
  const options = { connectionString: server.connectionString, schema, connectTimeoutMs: 1000 };
  const [a, b] = await Promise.all([
    openPostgresApprovalStore(options),
    openPostgresApprovalStore(options),
  ]);
  return { a, b, schema };
}

runApprovalStoreContract("postgres", async () => {
  const { a, b } = await openReplicas();
  return { a, b, cleanup: async () => {} };
});

describe("postgres approvals store with replicas", () => {
  test("after its LISTEN connection is killed, a replica resyncs and hears changes again", async () => {
    const { a, b } = await openReplicas();
    const watch = watchChanges(a);
    const admin = new pg.Client({ connectionString: server.connectionString });
    await admin.connect();
    try {
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'portcullis-approvals-listener'",
      );
      await watch.waitFor((change) => change.kind === "resync", 5000);
      const { id } = await b.createApproval(newApproval(), t0);
      await watch.waitFor(changeOf("approval", id));
    } finally {
      watch.stop();
      await admin.end();
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("after the server restarts, a replica resyncs and hears changes again", async () => {
    const { a, b } = await openReplicas();
    const watch = watchChanges(a);
    try {
      await server.stop();
      await server.start();
      // The listener backs off while the server is down, so allow for a few retries.
      await watch.waitFor((change) => change.kind === "resync", 10_000);
      const { id } = await b.createApproval(newApproval(), t0);
      await watch.waitFor(changeOf("approval", id));
    } finally {
      watch.stop();
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("a decision on one replica reaches a subscriber on the other quickly", async (t) => {
    const { a, b } = await openReplicas();
    const watch = watchChanges(a);
    const latencies: number[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        const { id } = await a.createApproval(newApproval(), t0);
        await watch.waitFor(changeOf("approval", id));
        const heard = () => watch.seen.filter(changeOf("approval", id)).length;
        const before = heard();
        const start = performance.now();
        await Promise.all([
          b.decide(id, approve("alice"), at(1)),
          watch.waitFor(() => heard() > before),
        ]);
        latencies.push(performance.now() - start);
      }
    } finally {
      watch.stop();
      await Promise.all([a.close(), b.close()]);
    }
    latencies.sort((x, y) => x - y);
    const median = latencies[25] ?? Number.NaN;
    t.diagnostic(
      `decide on replica B → subscriber on A: median ${median.toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2)} ms over 50`,
    );
    assert.ok(median < 250, `median ${median} ms`);
  });
});
