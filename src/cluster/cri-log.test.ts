import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCriLog } from "./cri-log.ts";

const at = new Date("2030-01-02T03:04:05.678Z");

test("each line becomes one full CRI record with time and stream", () => {
  assert.equal(
    formatCriLog("first\nsecond\n", "stdout", at),
    "2030-01-02T03:04:05.678Z stdout F first\n2030-01-02T03:04:05.678Z stdout F second\n",
  );
});

test("text without a trailing newline still ends its last record", () => {
  assert.equal(formatCriLog("oops", "stderr", at), "2030-01-02T03:04:05.678Z stderr F oops\n");
});

test("an empty line stays an empty record", () => {
  assert.equal(formatCriLog("\n", "stdout", at), "2030-01-02T03:04:05.678Z stdout F \n");
});
