import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAsciicast } from "./parse.ts";
import { SessionRecording } from "./session-recording.ts";

const t0 = Date.parse("2026-11-28T12:00:00Z");

test("a resize before anything else is the header's size, not an event", () => {
  const recording = new SessionRecording({ maxBytes: 1 << 20, startedAt: t0, command: "sh" });
  recording.resize(100, 30, t0 + 1);
  recording.output(Buffer.from("$ "), t0 + 2, "stdout");
  recording.resize(120, 40, t0 + 3);
  const { data, truncated } = recording.finish();
  const parsed = parseAsciicast(data.toString("utf8"));
  assert.equal(truncated, false);
  assert.deepEqual([parsed.header.width, parsed.header.height], [100, 30]);
  assert.deepEqual(
    parsed.events.map((e) => [e.code, e.data]),
    [
      ["o", "$ "],
      ["r", "120x40"],
    ],
  );
});

test("without a resize the header is 80x24", () => {
  const recording = new SessionRecording({ maxBytes: 1 << 20, startedAt: t0, command: "ls" });
  recording.output(Buffer.from("a\n"), t0, "stdout");
  const parsed = parseAsciicast(recording.finish().data.toString("utf8"));
  assert.deepEqual([parsed.header.width, parsed.header.height], [80, 24]);
});

test("past maxBytes the recording says where it stopped and keeps nothing more", () => {
  const recording = new SessionRecording({ maxBytes: 4096, startedAt: t0, command: "yes" });
  const line = Buffer.from(`${"y".repeat(99)}\n`);
  for (let i = 0; i < 1000; i++) recording.output(line, t0 + i, "stdout");
  recording.marker("ended by an operator", t0 + 2000);
  const { data, totalBytes, truncated } = recording.finish();
  assert.equal(truncated, true);
  assert.ok(data.length < 4096 + 1024, `kept ${data.length} bytes`);
  assert.ok(totalBytes > 90_000, `total ${totalBytes}`);
  const parsed = parseAsciicast(data.toString("utf8"));
  const markers = parsed.events.filter((e) => e.code === "m").map((e) => e.data);
  assert.equal(markers.length, 2);
  assert.match(
    String(markers[0] ?? ""),
    /the recording stops here, at \d+ bytes \(audit.maxRecordingBytes\)/,
  );
  assert.equal(markers[1], "ended by an operator");
  assert.ok(parsed.events.filter((e) => e.code === "o").length < 60);
});
