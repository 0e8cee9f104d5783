import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_DISTINCT_PATHS, MaskTally } from "./tally.ts";

describe("MaskTally", () => {
  it("counts per detector and path, sorted", () => {
    const t = new MaskTally();
    t.add("ssn", "ConfigMap.data.b");
    t.add("card", "ConfigMap.data.a");
    t.add("card", "ConfigMap.data.a");
    assert.equal(t.total, 3);
    assert.deepEqual(t.entries(), [
      { detector: "card", path: "ConfigMap.data.a", count: 2 },
      { detector: "ssn", path: "ConfigMap.data.b", count: 1 },
    ]);
  });

  it("caps distinct paths and counts the rest under (other)", () => {
    const t = new MaskTally();
    for (let i = 0; i < MAX_DISTINCT_PATHS + 50; i++) t.add("card", `ConfigMap.data.k${i}`);
    const entries = t.entries();
    assert.equal(entries.length, MAX_DISTINCT_PATHS + 1);
    assert.equal(entries.find((e) => e.path === "(other)")?.count, 50);
    assert.equal(t.total, MAX_DISTINCT_PATHS + 50);
  });
});
