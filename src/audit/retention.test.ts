import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, test } from "node:test";
import type { Logger } from "pino";
import { type FilledLog, fillSqliteLog } from "../../test/support/audit-records.ts";
import { parseAge, pruneOlderThan, startRetention } from "./retention.ts";
import { openSqliteStore } from "./store/sqlite.ts";
import { verifyLog } from "./verify.ts";

const start = new Date("2020-01-01T00:00:00Z");
const at = (index: number) => new Date(start.getTime() + index * 1000);
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function oldLog(count: number): Promise<FilledLog> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-retention-"));
  dirs.push(dir);
  return fillSqliteLog(dir, count, { start, checkpointEvery: 100, blobEvery: 10 });
}

async function closeLog(log: FilledLog): Promise<void> {
  await log.writer.close();
  await log.store.close();
}

async function firstSeq(log: FilledLog): Promise<number | undefined> {
  for await (const row of log.store.scan(0)) return row.seq;
  return undefined;
}

describe("pruneOlderThan", () => {
  test("prunes whole ranges below a checkpoint, records it, and the rest still verifies", async () => {
    const log = await oldLog(2000);
    try {
      assert.equal(await pruneOlderThan(log.store, log.writer, at(50)), undefined);
      const first = await pruneOlderThan(log.store, log.writer, at(1050));
      assert.deepEqual(first, { prunedBelow: 1000, removed: 1000, recordSeq: 2000 });
      assert.equal(await firstSeq(log), 1000);
      const [record] = await log.store.search({ kind: "prune" });
      assert.equal(JSON.parse(record?.body ?? "{}").prunedBelow, 1000);
      const second = await pruneOlderThan(log.store, log.writer, at(1580));
      assert.equal(second?.prunedBelow, 1500);
      await log.writer.checkpoint();
      const report = await verifyLog(log.store, log.signer.verifierKey);
      assert.equal(report.ok, true, report.failure?.message);
      assert.equal(report.firstRecord, 1500);
      assert.equal(report.checkpointsBeforeBase, 14);
    } finally {
      await closeLog(log);
    }
  });

  test("refuses to prune a range that no longer reproduces its checkpoint", async () => {
    const log = await oldLog(600);
    await closeLog(log);
    const db = new DatabaseSync(log.path);
    db.exec(
      `UPDATE records SET body = replace(body, '"verb":"get"', '"verb":"gex"') WHERE seq = 300`,
    );
    db.close();
    const store = await openSqliteStore(log.path);
    try {
      const reopened = { ...log, store };
      await assert.rejects(
        pruneOlderThan(store, log.writer, new Date("2100-01-01")),
        /refusing to prune: records 0–\d+ do not reproduce the signed checkpoint/,
      );
      assert.equal(await firstSeq(reopened), 0);
      assert.equal((await store.head()).size, 600);
    } finally {
      await store.close();
    }
  });

  test("the gateway's retention timer prunes by itself and stops on close", async () => {
    const log = await oldLog(500);
    const lines: string[] = [];
    const logger = {
      info: (_: unknown, message: string) => lines.push(message),
      warn: (_: unknown, message: string) => lines.push(message),
    } as unknown as Logger;
    try {
      const retention = startRetention(
        log.store,
        log.writer,
        { maxAgeDays: 1, everyMinutes: 60 },
        logger,
      );
      assert.ok(retention);
      const deadline = Date.now() + 10_000;
      while ((await log.store.base()) === undefined && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      await retention.stop();
      assert.equal((await log.store.base())?.size, 500);
      assert.deepEqual(lines, ["audit: pruned 500 records older than 1 days"]);
      assert.equal(startRetention(log.store, log.writer, { everyMinutes: 60 }, logger), undefined);
    } finally {
      await closeLog(log);
    }
  });
});

test("parseAge reads days, hours and minutes", () => {
  assert.equal(parseAge("90d"), 90 * 86_400_000);
  assert.equal(parseAge("12h"), 12 * 3_600_000);
  assert.equal(parseAge("30m"), 30 * 60_000);
  assert.throws(() => parseAge("90"), /not like 90d/);
});
