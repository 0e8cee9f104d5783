import assert from "node:assert/strict";
import { test } from "node:test";
import { applyPatches, type SourcePatch } from "./kwok-patches.ts";

const patch: SourcePatch = { file: "a.go", why: "test", find: "old()", replace: "new()" };

test("a patch replaces its one match in its own file only", () => {
  assert.equal(applyPatches("a.go", "x := old()", [patch]), "x := new()");
  assert.equal(applyPatches("b.go", "x := old()", [patch]), "x := old()");
});

test("a patch that no longer matches, or matches twice, fails the build", () => {
  assert.throws(() => applyPatches("a.go", "x := other()", [patch]), /matches 0 times/);
  assert.throws(() => applyPatches("a.go", "old(); old()", [patch]), /matches 2 times/);
});
