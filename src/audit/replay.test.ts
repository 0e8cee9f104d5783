import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { CompactRange, consistencyProof, leafHash, verifyConsistency } from "./merkle.ts";
import { readAhead } from "./read-ahead.ts";
import { TreeReplay } from "./replay.ts";

const leaves = Array.from({ length: 300 }, (_, i) => leafHash(Buffer.from(`record ${i}`)));

function rootOf(size: number): Buffer {
  const tree = new CompactRange();
  for (const leaf of leaves.slice(0, size)) tree.append(leaf);
  return tree.root();
}

describe("TreeReplay", () => {
  test("proofs between marks equal RFC 6962 proofs from all leaves, and verify", () => {
    const marks = [1, 2, 3, 4, 7, 8, 13, 64, 100, 127, 128, 129, 200, 255, 256, 300];
    const replay = new TreeReplay();
    let previous = 0;
    for (const size of marks) {
      while (replay.size < size) replay.append(leaves[replay.size] as Buffer);
      const interval = replay.mark();
      if (previous === 0) assert.equal(interval, undefined);
      else {
        const expected = consistencyProof(previous, size, (i) => leaves[i] as Buffer);
        assert.deepEqual(interval, { from: previous, to: size, proof: expected });
        assert.ok(verifyConsistency(previous, size, expected, rootOf(previous), rootOf(size)));
      }
      previous = size;
    }
  });

  test("starts from a saved frontier (a pruned base) and proves from it", () => {
    const start = new CompactRange();
    for (const leaf of leaves.slice(0, 77)) start.append(leaf);
    const replay = new TreeReplay(start.toJSON());
    while (replay.size < 150) replay.append(leaves[replay.size] as Buffer);
    assert.ok(replay.root().equals(rootOf(150)));
    const interval = replay.mark();
    assert.ok(interval);
    assert.ok(verifyConsistency(77, 150, interval.proof, rootOf(77), rootOf(150)));
  });

  test("refuses a frontier that cannot belong to its size", () => {
    assert.throws(() => new TreeReplay({ size: 3, frontier: ["00".repeat(32)] }), RangeError);
  });
});

describe("readAhead", () => {
  async function* numbers(n: number, log: string[]) {
    try {
      for (let i = 0; i < n; i++) {
        if (i % 7 === 0) await new Promise((r) => setImmediate(r));
        yield i;
      }
    } finally {
      log.push("closed");
    }
  }

  test("yields every item in order, in chunks", async () => {
    const seen: number[] = [];
    for await (const chunk of readAhead(numbers(2500, []), 1000)) {
      assert.ok(chunk.length <= 1000);
      seen.push(...chunk);
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 2500 }, (_, i) => i),
    );
  });

  test("closes the source when the consumer stops early, and passes errors on", async () => {
    const log: string[] = [];
    for await (const chunk of readAhead(numbers(10_000, log), 10)) if (chunk[0] === 20) break;
    assert.deepEqual(log, ["closed"]);
    async function* failing() {
      yield createHash("sha256").digest();
      throw new Error("store went away");
    }
    await assert.rejects(async () => {
      for await (const _ of readAhead(failing(), 10));
    }, /store went away/);
  });
});
