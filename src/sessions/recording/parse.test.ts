import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AsciicastFormatError, parseAsciicast } from "./parse.ts";

const HEADER = '{"version":2,"width":80,"height":24}';

/** Asserts that `text` is refused on `line` with a message matching `problem`. */
function refuses(text: string, line: number, problem: RegExp) {
  assert.throws(
    () => parseAsciicast(text),
    (err: unknown) => {
      assert.ok(err instanceof AsciicastFormatError, String(err));
      assert.equal(err.line, line);
      assert.equal(err.code, "bad_request");
      assert.match(err.message, new RegExp(`^asciicast line ${line}: `));
      assert.match(err.message, problem);
      return true;
    },
  );
}

describe("asciicast parser", () => {
  test("reads the example from the asciicast v2 documentation", () => {
    const text = [
      '{"version": 2, "width": 80, "height": 24, "timestamp": 1504467315, "title": "Demo", "env": {"TERM": "xterm-256color", "SHELL": "/bin/zsh"}}',
      '[0.248848, "o", "\\u001b[1;31mHello \\u001b[32mWorld!\\u001b[0m\\n"]',
      '[1.001376, "o", "That was ok\\rThis is better."]',
      '[1.500000, "m", ""]',
      '[2.143733, "o", "Now... "]',
      '[4.050000, "r", "80x24"]',
      '[6.541828, "o", "Bye!"]',
    ].join("\n");
    const { header, events } = parseAsciicast(text);
    assert.equal(header.timestamp, 1504467315);
    assert.equal(header.title, "Demo");
    assert.deepEqual(
      events.map((e) => e.code),
      ["o", "o", "m", "o", "r", "o"],
    );
    assert.equal(events[0]?.data, "\u001b[1;31mHello \u001b[32mWorld!\u001b[0m\n");
  });

  test("keeps unknown header fields and events with codes v2 does not define", () => {
    const text = `{"version":2,"width":80,"height":24,"theme":{"fg":"#d0d0d0"},"title":null}\n[1,"x",{"exit":0}]\n`;
    const { header, events } = parseAsciicast(text);
    assert.deepEqual((header as unknown as Record<string, unknown>).theme, { fg: "#d0d0d0" });
    assert.equal("title" in header, false, "a null title reads as absent");
    assert.deepEqual(events, [{ time: 1, code: "x", data: { exit: 0 } }]);
  });

  test("hashes the text as given", () => {
    const a = parseAsciicast(`${HEADER}\n[1,"o","a"]\n`).sha256;
    const b = parseAsciicast(`${HEADER}\n[1,"o","b"]\n`).sha256;
    assert.notEqual(a, b);
    assert.equal(a, parseAsciicast(`${HEADER}\n[1,"o","a"]\n`).sha256);
  });

  const invalid: Array<[string, string, number, RegExp]> = [
    ["an empty file", "", 1, /empty recording/],
    ["a header that is not JSON", "{version: 2}", 1, /not JSON/],
    ["a header that is an array", "[2, 80, 24]", 1, /JSON object/],
    ["asciicast v1", '{"version":1,"width":80,"height":24}', 1, /version must be 2/],
    ["v3", '{"version":3,"term":{"cols":80,"rows":24}}', 1, /version must be 2/],
    ["a zero width", '{"version":2,"width":0,"height":24}', 1, /width/],
    ["a fractional height", '{"version":2,"width":80,"height":2.5}', 1, /height/],
    [
      "a string timestamp",
      '{"version":2,"width":80,"height":24,"timestamp":"now"}',
      1,
      /timestamp/,
    ],
    ["a non-string env", '{"version":2,"width":80,"height":24,"env":{"A":1}}', 1, /env/],
    ["a negative idle limit", '{"version":2,"width":1,"height":1,"idle_time_limit":-1}', 1, /idle/],
    ["an event that is not JSON", `${HEADER}\n[1,"o","a"]\n[2,"o",`, 3, /not JSON/],
    ["a two-element event", `${HEADER}\n[1,"o"]`, 2, /\[time, code, data\]/],
    ["an event object", `${HEADER}\n{"time":1}`, 2, /\[time, code, data\]/],
    ["a string time", `${HEADER}\n["1","o","a"]`, 2, /time must be/],
    ["a negative time", `${HEADER}\n[-1,"o","a"]`, 2, /time must be/],
    ["time going backwards", `${HEADER}\n[2,"o","a"]\n[1,"o","b"]`, 3, /earlier/],
    ["an empty code", `${HEADER}\n[1,"","a"]`, 2, /code/],
    ["output data that is not a string", `${HEADER}\n[1,"o",42]`, 2, /"o" event data/],
    ["a resize without x", `${HEADER}\n[1,"r","80,24"]`, 2, /COLSxROWS/],
    ["a zero-row resize", `${HEADER}\n[1,"r","80x0"]`, 2, /COLSxROWS/],
    ["a blank line inside", `${HEADER}\n[1,"o","a"]\n\n[2,"o","b"]\n`, 3, /blank line/],
  ];
  for (const [name, text, line, problem] of invalid) {
    test(`refuses ${name}, naming line ${line}`, () => refuses(text, line, problem));
  }
});
