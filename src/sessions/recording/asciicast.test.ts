import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PortcullisError } from "../../errors.ts";
import { AsciicastRecorder } from "./asciicast.ts";
import { asciicastSha256, formatAsciicast } from "./format.ts";
import { parseAsciicast } from "./parse.ts";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0, 250);
const at = (seconds: number) => T0 + seconds * 1000;

function recorder() {
  return new AsciicastRecorder({
    width: 80,
    height: 24,
    startedAt: T0,
    title: "exec web-0 -- sh",
    env: { TERM: "xterm-256color" },
  });
}

/** Feeds a scripted session; returns the recorder, not yet ended. */
function scripted(rec = recorder()) {
  rec.output("$ ", at(0.1));
  rec.input("ls\r", at(1.5));
  rec.output("ls\r\n", at(1.501));
  rec.output("ls: cannot access 'x'\r\n", at(1.6), "stderr");
  rec.resize(120, 40, at(2));
  rec.marker("policy: deny rm -rf", at(2.25));
  rec.output(Buffer.from("\u001b[1mdone\u001b[0m\r\n"), at(3.000_000_4));
  return rec;
}

describe("asciicast recorder", () => {
  test("writes the asciicast v2 header and one [time, code, data] line per event", () => {
    const text = scripted().end();
    const lines = text.split("\n");
    assert.equal(
      lines[0],
      '{"version":2,"width":80,"height":24,"timestamp":1795867200,"title":"exec web-0 -- sh","env":{"TERM":"xterm-256color"}}',
    );
    assert.deepEqual(lines.slice(1), [
      '[0.1,"o","$ "]',
      '[1.5,"i","ls\\r"]',
      '[1.501,"o","ls\\r\\n"]',
      '[1.6,"o","ls: cannot access \'x\'\\r\\n"]',
      '[2,"r","120x40"]',
      '[2.25,"m","policy: deny rm -rf"]',
      '[3,"o","\\u001b[1mdone\\u001b[0m\\r\\n"]',
      "",
    ]);
  });

  test("round-trips through the parser, and re-formatting gives back the same text and hash", () => {
    const text = scripted().end();
    const parsed = parseAsciicast(text);
    assert.equal(parsed.header.width, 80);
    assert.deepEqual(parsed.header.env, { TERM: "xterm-256color" });
    assert.deepEqual(
      parsed.events.map((e) => [e.time, e.code, e.data]),
      [
        [0.1, "o", "$ "],
        [1.5, "i", "ls\r"],
        [1.501, "o", "ls\r\n"],
        [1.6, "o", "ls: cannot access 'x'\r\n"],
        [2, "r", "120x40"],
        [2.25, "m", "policy: deny rm -rf"],
        [3, "o", "\u001b[1mdone\u001b[0m\r\n"],
      ],
    );
    assert.equal(formatAsciicast(parsed.header, parsed.events), text);
    assert.equal(parsed.sha256, asciicastSha256(text));
    assert.match(parsed.sha256, /^[0-9a-f]{64}$/);
  });

  test("draining in chunks produces exactly the one-shot text", () => {
    const oneShot = scripted().end();
    const rec = recorder();
    let chunked = rec.drain();
    rec.output("$ ", at(0.1));
    assert.ok(rec.pendingChars > 0);
    chunked += rec.drain();
    assert.equal(rec.pendingChars, 0);
    assert.equal(rec.drain(), "", "nothing new since the last drain");
    rec.input("ls\r", at(1.5));
    rec.output("ls\r\n", at(1.501));
    chunked += rec.drain();
    rec.output("ls: cannot access 'x'\r\n", at(1.6), "stderr");
    rec.resize(120, 40, at(2));
    rec.marker("policy: deny rm -rf", at(2.25));
    chunked += rec.drain();
    rec.output(Buffer.from("\u001b[1mdone\u001b[0m\r\n"), at(3.000_000_4));
    chunked += rec.end();
    assert.equal(chunked, oneShot);
  });

  test("holds back a UTF-8 character split across chunks and writes it whole", () => {
    const rec = recorder();
    const bytes = Buffer.from("héllo €uro 🙂", "utf8");
    // Cut inside é (2 bytes), € (3 bytes) and 🙂 (4 bytes), a byte at a time at the end.
    const cuts = [2, 8, 10, 15, 16, 17, bytes.length];
    let from = 0;
    for (const [i, cut] of cuts.entries()) {
      rec.output(bytes.subarray(from, cut), at(i));
      from = cut;
    }
    const { events } = parseAsciicast(rec.end());
    assert.equal(events.map((e) => e.data).join(""), "héllo €uro 🙂");
    assert.ok(events.every((e) => !String(e.data).includes("\uFFFD")));
    // A chunk that is only part of a character produces no event of its own.
    assert.ok(events.length < cuts.length);
  });

  test("keeps each source's partial character apart from the others", () => {
    const rec = recorder();
    const euro = Buffer.from("€", "utf8");
    const lambda = Buffer.from("λ", "utf8");
    rec.output(euro.subarray(0, 1), at(1));
    rec.output(lambda.subarray(0, 1), at(1.1), "stderr");
    rec.input(Buffer.from("é", "utf8").subarray(0, 1), at(1.2));
    rec.output(Buffer.concat([euro.subarray(1), Buffer.from("!")]), at(1.3));
    rec.output(lambda.subarray(1), at(1.4), "stderr");
    rec.input(Buffer.from("é", "utf8").subarray(1), at(1.5));
    const { events } = parseAsciicast(rec.end());
    assert.deepEqual(
      events.map((e) => [e.code, e.data]),
      [
        ["o", "€!"],
        ["o", "λ"],
        ["i", "é"],
      ],
    );
  });

  test("end() flushes a truncated character as U+FFFD; invalid bytes become U+FFFD", () => {
    const rec = recorder();
    rec.output(Buffer.from([0x61, 0xff, 0x62]), at(1));
    rec.output(Buffer.from("€", "utf8").subarray(0, 2), at(2));
    const { events } = parseAsciicast(rec.end());
    assert.deepEqual(
      events.map((e) => [e.time, e.data]),
      [
        [1, "a\uFFFDb"],
        [2, "\uFFFD"],
      ],
    );
  });

  test("keeps a byte order mark the program wrote", () => {
    const rec = recorder();
    rec.output(Buffer.from("\uFEFFid", "utf8"), at(1));
    assert.equal(parseAsciicast(rec.end()).events[0]?.data, "\uFEFFid");
  });

  test("never lets time go backwards when the clock steps back", () => {
    const rec = recorder();
    rec.output("a", at(5));
    rec.output("b", at(4));
    rec.output("c", T0 - 10_000);
    const { events } = parseAsciicast(rec.end());
    assert.deepEqual(
      events.map((e) => e.time),
      [5, 5, 5],
    );
    assert.equal(rec.duration, 5);
  });

  test("accepts Date instants and rounds times to the microsecond", () => {
    const rec = new AsciicastRecorder({ width: 1, height: 1, startedAt: new Date(T0) });
    rec.output("x", new Date(T0 + 1234));
    rec.output("y", T0 + 2345.6789);
    assert.deepEqual(rec.end().split("\n").slice(1), ['[1.234,"o","x"]', '[2.345679,"o","y"]', ""]);
  });

  test("refuses a terminal size that is not positive integers", () => {
    assert.throws(
      () => new AsciicastRecorder({ width: 0, height: 24, startedAt: T0 }),
      PortcullisError,
    );
    assert.throws(() => recorder().resize(80.5, 24, at(1)), /positive integers/);
  });

  test("refuses events after end()", () => {
    const rec = recorder();
    rec.end();
    assert.throws(() => rec.output("late", at(9)), /already ended/);
    assert.throws(() => rec.end(), /already ended/);
  });
});
