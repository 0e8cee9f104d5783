import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AsciicastRecorder } from "./asciicast.ts";
import { type PlayOptions, playAsciicast } from "./player.ts";

const T0 = 1_800_000_000_000;

/** A recording of: prompt, typed `ls`, its echo and output, a resize, a long idle. */
function recording(idleTimeLimit?: number): string {
  const rec = new AsciicastRecorder({ width: 80, height: 24, startedAt: T0 });
  rec.output("$ ", T0 + 500);
  rec.input("ls\r", T0 + 1500);
  rec.output("ls\r\n", T0 + 1510);
  rec.marker("checkpoint", T0 + 1700);
  rec.output("a.txt\r\n", T0 + 2000);
  rec.resize(120, 40, T0 + 3000);
  rec.output("$ ", T0 + 33_000);
  let text = rec.end();
  if (idleTimeLimit !== undefined) {
    text = text.replace('"height":24', `"height":24,"idle_time_limit":${idleTimeLimit}`);
  }
  return text;
}

/** Plays with a fake clock; returns the transcript of sleeps and writes, in order. */
async function play(text: string, options: Omit<PlayOptions, "write" | "sleep"> = {}) {
  const log: Array<number | string> = [];
  const summary = await playAsciicast(text, {
    ...options,
    write: (s) => log.push(s),
    sleep: async (ms) => {
      log.push(ms);
    },
  });
  return { log, summary };
}

describe("asciicast player", () => {
  test("writes output at its recorded times, skipping typed input and markers", async () => {
    const { log, summary } = await play(recording(), { isTTY: true });
    assert.deepEqual(log, [500, "$ ", 1010, "ls\r\n", 490, "a.txt\r\n", 31_000, "$ "]);
    assert.deepEqual(summary, { written: 4, pausedMs: 33_000, completed: true });
  });

  test("divides every pause by the speed", async () => {
    const { log } = await play(recording(), { speed: 2, isTTY: true });
    assert.deepEqual(log, [250, "$ ", 505, "ls\r\n", 245, "a.txt\r\n", 15_500, "$ "]);
  });

  test("caps a long idle before scaling by speed", async () => {
    const { log } = await play(recording(), { speed: 2, maxIdleSeconds: 2, isTTY: true });
    // The 30 s idle after the resize: 1 s before it, capped 2 s after it, halved.
    assert.deepEqual(log, [250, "$ ", 505, "ls\r\n", 245, "a.txt\r\n", 1500, "$ "]);
  });

  test("takes the idle cap from the header's idle_time_limit unless told otherwise", async () => {
    const fromHeader = await play(recording(1), { isTTY: true });
    assert.equal(fromHeader.log.at(-2), 2000);
    const overridden = await play(recording(1), { maxIdleSeconds: 5, isTTY: true });
    assert.equal(overridden.log.at(-2), 6000);
  });

  test("announces a resize on a line of its own only when the writer is not a TTY", async () => {
    const piped = await play(recording(), { speed: 1000 });
    assert.ok(piped.log.includes("\r\n[resized to 120x40]\r\n"));
    const terminal = await play(recording(), { speed: 1000, isTTY: true });
    assert.ok(!terminal.log.some((s) => typeof s === "string" && s.includes("resized")));
  });

  test("carries pauses under a millisecond instead of dropping them", async () => {
    const rec = new AsciicastRecorder({ width: 80, height: 24, startedAt: T0 });
    for (let i = 1; i <= 10; i++) rec.output(".", T0 + i * 0.4);
    const { log, summary } = await play(rec.end());
    assert.equal(log.filter((s) => s === ".").length, 10);
    assert.ok(log.filter((s) => typeof s === "number").every((ms) => ms >= 1));
    assert.equal(summary.pausedMs, 4);
  });

  test("stops between events when the signal aborts", async () => {
    const controller = new AbortController();
    const written: string[] = [];
    const summary = await playAsciicast(recording(), {
      isTTY: true,
      write: (s) => {
        written.push(s);
        controller.abort();
      },
      sleep: async () => {},
      signal: controller.signal,
    });
    assert.deepEqual(written, ["$ "]);
    assert.equal(summary.completed, false);
  });

  test("refuses a speed that is not positive, and an invalid recording", async () => {
    await assert.rejects(play(recording(), { speed: 0 }), /speed must be a positive number/);
    await assert.rejects(play('{"version":2,"width":80,"height":24}\n[1,"o"]\n'), /line 2/);
  });
});
