import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, test } from "node:test";
import { runApprovalStoreContract } from "./contract.ts";
import { changeOf, newApproval, t0, watchChanges } from "./contract-support.ts";
import { approvalsDatabaseFile, openSqliteApprovalStore } from "./sqlite.ts";

/** Two connections to one file, as the gateway and the CLI have; the poll is what links them. */
runApprovalStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-approvals-"));
  const path = join(dir, approvalsDatabaseFile);
  return {
    a: await openSqliteApprovalStore(path),
    b: await openSqliteApprovalStore(path),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("sqlite approvals store", () => {
  test("resyncs a subscriber whose unread changes were pruned", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-approvals-"));
    const path = join(dir, approvalsDatabaseFile);
    const store = await openSqliteApprovalStore(path, { pollIntervalMs: 20 });
    const other = await openSqliteApprovalStore(path);
    const watch = watchChanges(store);
    try {
      const first = await other.createApproval(newApproval(), t0);
      await watch.waitFor(changeOf("approval", first.id));
      // Another process pruned rows this store had not read yet.
      const gone = await other.createApproval(newApproval(), t0);
      const raw = new DatabaseSync(path);
      raw.prepare("DELETE FROM changes WHERE id = ?").run(gone.id);
      const kept = await other.createApproval(newApproval(), t0);
      raw.close();
      await watch.waitFor((change) => change.kind === "resync");
      await watch.waitFor(changeOf("approval", kept.id));
      assert.equal(watch.seen.filter(changeOf("approval", gone.id)).length, 0);
    } finally {
      watch.stop();
      await Promise.all([store.close(), other.close()]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
