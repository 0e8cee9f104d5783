/**
 * Tamper tests on both engines: an intruder with SQL access changes a field,
 * deletes, swaps or inserts rows, truncates the tail or re-signs the
 * checkpoints with another key; `verifyLog` — and `portcullis audit verify`
 * as a process, for SQLite — fails and names the place every time. A
 * legitimate prune and an evidence bundle still verify.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { canonicalJson } from "../../src/audit/canonical.ts";
import { signCheckpoint } from "../../src/audit/checkpoint.ts";
import { writeEvidenceBundle } from "../../src/audit/evidence.ts";
import { openEvidenceBundle } from "../../src/audit/evidence-source.ts";
import { leafHash } from "../../src/audit/merkle.ts";
import { generateSigner, parseSignerKey } from "../../src/audit/note.ts";
import { statedRoot } from "../../src/audit/replay.ts";
import { pruneOlderThan } from "../../src/audit/retention.ts";
import { verifyLog } from "../../src/audit/verify.ts";
import {
  at,
  freshLog,
  type Log,
  portcullis,
  postgresEngine,
  records,
  removeLogs,
  sqlite,
  verifyStore,
} from "../support/audit-tamper.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await removeLogs();
  await server?.destroy();
});

/** A forged record an intruder would craft: canonical, hashed, with every column filled. */
async function insertForged(log: Log, seq: number): Promise<void> {
  const body = canonicalJson({
    kind: "prune",
    time: at(seq).toISOString(),
    requestId: "forged",
    prunedBelow: 0,
    checkpointSize: 0,
    reason: "x",
    seq,
  });
  await log.sql(
    "INSERT INTO records (seq, body, leaf_hash, time, kind, request_id) VALUES (?, ?, ?, ?, ?, ?)",
    [seq, body, leafHash(Buffer.from(body)), at(seq).toISOString(), "prune", "forged"],
  );
}

interface TamperCase {
  name: string;
  tamper(log: Log): Promise<RegExp>;
}

const cases: TamperCase[] = [
  {
    name: "changing one field of one row",
    async tamper(log) {
      const [row] = await log.sql(
        "SELECT seq FROM records WHERE kind = 'request' AND verb = 'get' AND seq > 500 ORDER BY seq LIMIT 1",
      );
      const seq = Number(row?.seq);
      await log.sql(
        `UPDATE records SET body = replace(body, '"verb":"get"', '"verb":"delete"') WHERE seq = ?`,
        [seq],
      );
      return new RegExp(
        `^records \\d+–\\d+: recomputed root differs from the signed checkpoint at size \\d+ — first record whose stored leaf hash differs: ${seq}$`,
      );
    },
  },
  {
    name: "deleting a row",
    async tamper(log) {
      await log.sql("DELETE FROM records WHERE seq = 420");
      return /^record 420: missing \(the log jumps from record 419 to 421/;
    },
  },
  {
    name: "swapping two rows",
    async tamper(log) {
      const rows = await log.sql(
        "SELECT seq, body FROM records WHERE seq IN (300, 301) ORDER BY seq",
      );
      await log.sql("UPDATE records SET body = ? WHERE seq = 300", [rows[1]?.body]);
      await log.sql("UPDATE records SET body = ? WHERE seq = 301", [rows[0]?.body]);
      return /^record 300: its seq says 301 \(records missing or reordered\)$/;
    },
  },
  {
    name: "inserting a row in the middle",
    async tamper(log) {
      // Make room at 600 the only way a primary key allows, then put a well-formed forgery there.
      await log.sql("UPDATE records SET seq = -seq - 1 WHERE seq >= 600");
      await log.sql("UPDATE records SET seq = -seq WHERE seq < 0");
      await insertForged(log, 600);
      return /^record 601: its seq says 600 \(records missing or reordered\)$/;
    },
  },
  {
    name: "appending a row at the tail",
    async tamper(log) {
      await insertForged(log, records);
      return new RegExp(`^record ${records}: beyond the store's log head \\(size ${records}\\)`);
    },
  },
  {
    name: "truncating the tail",
    async tamper(log) {
      await log.sql("DELETE FROM records WHERE seq >= 950");
      return /^records 950–999: missing — the signed checkpoint at size 1000 covers them \(the log's tail was truncated\)$/;
    },
  },
  {
    name: "re-signing the checkpoints with another key",
    async tamper(log) {
      const origin = log.key.split("+")[0] as string;
      const intruder = parseSignerKey(generateSigner(origin).signerKey);
      for (const row of await log.sql("SELECT size, note FROM checkpoints")) {
        const { size, rootHash } = statedRoot(String(row.note));
        await log.sql("UPDATE checkpoints SET note = ? WHERE size = ?", [
          signCheckpoint({ origin, size, rootHash }, intruder),
          size,
        ]);
      }
      return new RegExp(
        `^checkpoint at size ${log.checkpoints[0]}: signature does not verify with the given key`,
      );
    },
  },
];

for (const engine of [sqlite, postgresEngine(() => server)]) {
  describe(`${engine.name}: audit verify after tampering`, () => {
    for (const { name, tamper } of cases) {
      test(`fails and names the place after ${name}`, async () => {
        const log = await freshLog(engine);
        assert.equal((await verifyStore(log)).ok, true);
        const expected = await tamper(log);
        const report = await verifyStore(log);
        assert.equal(report.ok, false);
        assert.match(report.failure?.message ?? "", expected);
        if (engine.name !== "sqlite") return;
        const run = await portcullis(["audit", "verify", "--data-dir", log.dir]);
        assert.equal(run.code, 1, run.stdout + run.stderr);
        assert.match(
          run.stderr,
          new RegExp(`audit verify: FAILED — ${expected.source.slice(1)}`, "m"),
        );
      });
    }

    test("passes after a legitimate prune", async () => {
      const log = await freshLog(engine, async ({ store, writer }) => {
        assert.equal((await pruneOlderThan(store, writer, at(550)))?.prunedBelow, 500);
      });
      const report = await verifyStore(log);
      assert.equal(report.ok, true, report.failure?.message);
      assert.equal(report.firstRecord, 500);
    });

    test("an evidence bundle verifies, and fails once a byte of records.jsonl changes", async () => {
      const log = await freshLog(engine);
      const bundle = join(log.dir, "bundle");
      const store = await log.open();
      await writeEvidenceBundle(store, log.key, { from: at(200, 500), to: at(260) }, bundle);
      await store.close();
      assert.equal((await verifyLog(openEvidenceBundle(bundle), log.key)).ok, true);
      const path = join(bundle, "records.jsonl");
      const data = await readFile(path);
      data[data.indexOf('"time":"2020') + 9] ^= 1; // 2020 → 2021 or so: still canonical JSON
      await writeFile(path, data);
      const report = await verifyLog(openEvidenceBundle(bundle), log.key);
      assert.equal(
        report.failure?.message,
        "records 201–299: recomputed root differs from the signed checkpoint at size 300",
      );
    });
  });
}

describe("portcullis audit, as a process, on SQLite", () => {
  test("prune --older-than, then verify passes", async () => {
    const log = await freshLog(sqlite);
    const pruned = await portcullis([
      "audit",
      "prune",
      "--older-than",
      "1d",
      "--data-dir",
      log.dir,
    ]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(
      pruned.stdout,
      /^pruned 1000 records: the log now starts at record 1000 \(prune record 1000\)/,
    );
    const verified = await portcullis(["audit", "verify", "--data-dir", log.dir]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /^verified: 1 records \(1000–1000\)/);
  });

  test("evidence writes a bundle that verify --bundle accepts, and refuses once changed", async () => {
    const log = await freshLog(sqlite);
    const out = join(log.dir, "evidence");
    const range = ["--from", at(100).toISOString(), "--to", at(150).toISOString()];
    const written = await portcullis([
      "audit",
      "evidence",
      ...range,
      "--out",
      out,
      "--data-dir",
      log.dir,
    ]);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /records 100–199 \(50 in the range\).*; verified/);
    const key = join(log.dir, "audit", "verifier.pub");
    const ok = await portcullis(["audit", "verify", "--bundle", out, "--key", key]);
    assert.equal(ok.code, 0, ok.stderr);
    const path = join(out, "records.jsonl");
    const data = await readFile(path);
    data[data.indexOf('"seq":150') + 8] = "7".charCodeAt(0);
    await writeFile(path, data);
    const bad = await portcullis(["audit", "verify", "--bundle", out, "--key", key]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /FAILED — record 150: its seq says 157/);
  });
});
