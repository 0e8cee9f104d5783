import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, test } from "node:test";
import { isPortcullisError } from "../../errors.ts";
import { fakeBuild, runStoreContract } from "./contract.ts";
import { openSqliteStore } from "./sqlite.ts";
import type { AuditStore } from "./store.ts";

runStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-sqlite-"));
  const path = join(dir, "audit.db");
  return {
    store: await openSqliteStore(path),
    reopen: () => openSqliteStore(path),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

const unavailable = (pattern: RegExp) => (error: unknown) =>
  isPortcullisError(error) && error.code === "audit_unavailable" && pattern.test(error.message);

async function assertSeqs(store: AuditStore, size: number): Promise<void> {
  const seqs: number[] = [];
  for await (const row of store.scan(0)) seqs.push(row.seq);
  assert.deepEqual(
    seqs,
    Array.from({ length: size }, (_, i) => i),
  );
}

/** A tmpfs of a few hundred KiB, so "disk full" is real even as root; undefined where mount is not allowed. */
function mountTinyTmpfs(dir: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("sqlite audit store when the database is unavailable", () => {
  // Root ignores file permissions, so "unwritable" is forced by another
  // connection holding the write lock past the busy timeout: a real SQLITE_BUSY.
  test("append fails while another connection holds the write lock, then recovers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-sqlite-"));
    const path = join(dir, "audit.db");
    const store = await openSqliteStore(path, { busyTimeoutMs: 100 });
    const intruder = new DatabaseSync(path);
    try {
      await store.append(fakeBuild([{}]));
      intruder.exec("BEGIN EXCLUSIVE");
      await assert.rejects(store.append(fakeBuild([{}])), unavailable(/locked|busy/i));
      await assert.rejects(store.append(fakeBuild([{}])), unavailable(/locked|busy/i));
      intruder.exec("ROLLBACK");
      await store.append(fakeBuild([{}, {}]));
      await assertSeqs(store, 3);
    } finally {
      intruder.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("append fails while the disk is full, then recovers", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-sqlite-full-"));
    if (!mountTinyTmpfs(dir)) {
      t.skip("cannot mount a tmpfs here (needs root)");
      await rm(dir, { recursive: true });
      return;
    }
    const store = await openSqliteStore(join(dir, "audit.db"));
    const filler = join(dir, "filler");
    try {
      await store.append(fakeBuild([{}]));
      // Fill every remaining byte; tmpfs refuses the write that would overflow it.
      await writeFile(filler, Buffer.alloc(1024 * 1024)).catch(() => {});
      const big = { sha256: "f".repeat(64), data: Buffer.alloc(64 * 1024, 1) };
      await assert.rejects(store.append(fakeBuild([{}], [big])), unavailable(/full/i));
      await unlink(filler);
      await store.append(fakeBuild([{}], [big]));
      await assertSeqs(store, 2);
    } finally {
      await store.close();
      execFileSync("umount", [dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
