import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { fillSqliteLog } from "../../test/support/audit-records.ts";
import { leafHash } from "./merkle.ts";
import { generateSigner } from "./note.ts";
import { TreeReplay } from "./replay.ts";
import { openSqliteStore } from "./store/sqlite.ts";
import type { AuditStore } from "./store/store.ts";
import { type VerifyReport, verifyLog } from "./verify.ts";
import { isCanonical } from "./verify-record.ts";

let template: string;
let key: string;
const dirs: string[] = [];

before(async () => {
  template = await mkdtemp(join(tmpdir(), "portcullis-verify-"));
  dirs.push(template);
  const log = await fillSqliteLog(template, 3000, { blobEvery: 10, checkpointEvery: 100 });
  key = log.signer.verifierKey;
  await log.writer.close();
  await log.store.close();
});
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A copy of the template log, changed by `tamper` with plain SQL (as an intruder would). */
async function copyOfLog(tamper: (db: DatabaseSync) => void = () => {}): Promise<AuditStore> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-verify-"));
  dirs.push(dir);
  const path = join(dir, "audit.db");
  await copyFile(join(template, "audit.db"), path);
  const db = new DatabaseSync(path);
  tamper(db);
  db.close();
  return openSqliteStore(path);
}

async function verifyCopy(
  tamper?: (db: DatabaseSync) => void,
  verifierKey = key,
): Promise<VerifyReport> {
  const store = await copyOfLog(tamper);
  try {
    return await verifyLog(store, verifierKey);
  } finally {
    await store.close();
  }
}

function seqWhere(db: DatabaseSync, where: string): number {
  return Number(
    db.prepare(`SELECT seq FROM records WHERE ${where} ORDER BY seq LIMIT 1`).get()?.seq,
  );
}

describe("verifyLog over a real SQLite log", () => {
  test("passes an untouched log and counts what it checked", async () => {
    const progress: number[] = [];
    const store = await copyOfLog();
    const report = await verifyLog(store, key, {
      progressEvery: 1000,
      onProgress: ({ records }) => progress.push(records),
    });
    await store.close();
    assert.equal(report.ok, true, report.failure?.message);
    assert.equal(report.records, 3000);
    assert.equal(report.size, 3000);
    assert.equal(report.latestCheckpoint?.size, 3000);
    assert.equal(report.consistencyProofs, report.checkpoints - 1);
    assert.ok(report.checkpoints >= 25, `${report.checkpoints} checkpoints`);
    assert.ok(report.blobs > 50, `${report.blobs} blobs`);
    assert.equal(report.uncovered, 0);
    assert.deepEqual(progress, [1000, 2000, 3000]);
  });

  test("counts records no checkpoint covers yet", async () => {
    const report = await verifyCopy((db) => {
      db.exec("DELETE FROM checkpoints WHERE size = (SELECT max(size) FROM checkpoints)");
    });
    assert.equal(report.ok, true, report.failure?.message);
    assert.ok(report.uncovered > 0 && report.uncovered <= 200, `${report.uncovered}`);
  });

  test("names a checkpoint that another key signed", async () => {
    // Same log name, another key: what an intruder who re-signs the log would hold.
    const other = generateSigner(key.split("+")[0] as string);
    const report = await verifyCopy(undefined, other.verifierKey);
    assert.equal(report.ok, false);
    assert.match(
      report.failure?.message ?? "",
      /^checkpoint at size \d+: signature does not verify/,
    );
  });

  test("names the record whose edit keeps it canonical, via the checkpoint root", async () => {
    let target = 0;
    const report = await verifyCopy((db) => {
      target = seqWhere(db, "kind = 'request' AND verb = 'get' AND seq > 1200");
      db.prepare(
        `UPDATE records SET body = replace(body, '"verb":"get"', '"verb":"delete"') WHERE seq = ?`,
      ).run(target);
    });
    assert.match(
      report.failure?.message ?? "",
      new RegExp(
        `recomputed root differs from the signed checkpoint at size \\d+ — first record whose stored leaf hash differs: ${target}$`,
      ),
    );
    assert.equal(report.failure?.seq, target);
  });

  test("names a record that is no longer canonical JSON", async () => {
    const report = await verifyCopy((db) => {
      db.exec(`UPDATE records SET body = replace(body, '"kind":', '"kind" :') WHERE seq = 57`);
    });
    assert.equal(
      report.failure?.message,
      "record 57: body is not canonical JSON (edited outside Portcullis?)",
    );
  });

  test("names a record that is not JSON at all", async () => {
    const report = await verifyCopy((db) => {
      db.exec("UPDATE records SET body = substr(body, 2) WHERE seq = 58");
    });
    assert.equal(
      report.failure?.message,
      "record 58: body is not valid JSON (edited outside Portcullis?)",
    );
  });

  test("names a record whose blob changed or went missing", async () => {
    let target = 0;
    const changed = await verifyCopy((db) => {
      target = seqWhere(db, `body LIKE '%"blob":true%' AND seq > 500`);
      const sha = JSON.parse(
        String(db.prepare("SELECT body FROM records WHERE seq = ?").get(target)?.body),
      ).body.sha256;
      db.prepare("UPDATE blobs SET data = ? WHERE sha256 = ?").run(Buffer.from("forged"), sha);
    });
    assert.match(
      changed.failure?.message ?? "",
      new RegExp(`^record ${target}: its body blob [0-9a-f]{64} does not match its SHA-256`),
    );
    const missing = await verifyCopy((db) => db.exec("DELETE FROM blobs"));
    assert.match(
      missing.failure?.message ?? "",
      /^record \d+: its body blob [0-9a-f]{64} is missing$/,
    );
  });

  test("names a checkpoint filed under another size", async () => {
    const report = await verifyCopy((db) => {
      db.exec(
        "UPDATE checkpoints SET size = size + 1 WHERE size = (SELECT min(size) FROM checkpoints)",
      );
    });
    assert.match(
      report.failure?.message ?? "",
      /^checkpoint at size (\d+): its signed note says size \d+/,
    );
  });

  test("after pruning, the base must reproduce its checkpoint and a prune record must say so", async () => {
    const store = await copyOfLog();
    const cut = (await store.checkpoints())[10]?.size ?? 0;
    const tree = new TreeReplay();
    for await (const row of store.scan(0, cut)) tree.append(leafHash(Buffer.from(row.body)));
    await store.prune({ size: cut, frontier: tree.state().frontier });
    const unrecorded = await verifyLog(store, key);
    assert.match(
      unrecorded.failure?.message ?? "",
      new RegExp(`^the log starts at record ${cut}, but no prune record says it was pruned there`),
    );
    await store.prune({
      size: cut,
      frontier: tree.state().frontier.map((h, i) => (i === 0 ? "00".repeat(32) : h)),
    });
    const forged = await verifyLog(store, key);
    assert.equal(
      forged.failure?.message,
      `the log's base (records below ${cut} pruned) does not reproduce the signed checkpoint at size ${cut}`,
    );
    await store.close();
  });

  test("the fast canonical check agrees with RFC 8785 on the edge cases", () => {
    assert.equal(isCanonical({ "10": 1, "9": 2, seq: 0 }, '{"10":1,"9":2,"seq":0}'), true);
    assert.equal(isCanonical({ a: 1, b: 2 }, '{"b":2,"a":1}'), false);
    assert.equal(isCanonical({ a: 1 }, '{"a":1.0}'), false);
    assert.equal(isCanonical({ a: 1e21 }, '{"a":1e+21}'), true);
    assert.equal(isCanonical({ a: "\u00e9" }, '{"a":"\\u00e9"}'), false);
    assert.equal(isCanonical(JSON.parse('{"a":"\\ud800"}'), '{"a":"\\ud800"}'), false);
    assert.equal(isCanonical({ a: "\u2028" }, '{"a":"\u2028"}'), true);
  });
});
