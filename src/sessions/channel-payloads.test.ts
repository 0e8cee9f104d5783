import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeResize, parseErrorChannel, parseResize } from "./channel-payloads.ts";
import { ProtocolError } from "./channel-protocol.ts";

// Error channel payloads as kube-apiserver sent them (see test/e2e/stream-protocol.test.ts).
const captured = {
  v5Success: '{"metadata":{},"status":"Success"}',
  v5Exit3:
    '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: command terminated with exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
  v4Success: '{"status":"Success"}',
  v4Exit7:
    '{"status":"Failure","message":"command terminated with non-zero exit code: exit status 7","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}',
};

describe("parseErrorChannel", () => {
  test("Success is exit code 0, with or without metadata", () => {
    assert.deepEqual(parseErrorChannel(captured.v5Success), { status: "Success", exitCode: 0 });
    assert.deepEqual(parseErrorChannel(Buffer.from(captured.v4Success), "v4.channel.k8s.io"), {
      status: "Success",
      exitCode: 0,
    });
  });

  test("NonZeroExitCode carries the code from its ExitCode cause", () => {
    assert.equal(parseErrorChannel(captured.v5Exit3).exitCode, 3);
    assert.deepEqual(parseErrorChannel(captured.v4Exit7, "v4.channel.k8s.io"), {
      status: "Failure",
      exitCode: 7,
      message: "command terminated with non-zero exit code: exit status 7",
    });
  });

  test("another Failure has a message and no exit code", () => {
    const status =
      '{"status":"Failure","message":"container not found (\\"app\\")","reason":"InternalError"}';
    assert.deepEqual(parseErrorChannel(status), {
      status: "Failure",
      message: 'container not found ("app")',
    });
  });

  test("a NonZeroExitCode whose cause is not a number has no exit code", () => {
    const status =
      '{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]}}';
    assert.deepEqual(parseErrorChannel(status), { status: "Failure" });
  });

  test("before v4 the channel is the error's text", () => {
    assert.deepEqual(parseErrorChannel("error executing command", "channel.k8s.io"), {
      status: "Failure",
      message: "error executing command",
    });
  });

  test("refuses payloads that are not a Status", () => {
    for (const payload of ["not json", '{"status":"Maybe"}', "[]", "null"]) {
      assert.throws(() => parseErrorChannel(payload), ProtocolError, payload);
    }
  });
});

describe("parseResize", () => {
  test("reads the TerminalSize kubectl sends", () => {
    assert.deepEqual(parseResize(Buffer.from('{"Width":120,"Height":40}')), [
      { width: 120, height: 40 },
    ]);
  });

  test("matches keys case-insensitively and treats a missing one as 0, as Go does", () => {
    assert.deepEqual(parseResize('{"width":80}'), [{ width: 80, height: 0 }]);
  });

  test("reads several sizes in one payload", () => {
    assert.deepEqual(parseResize('{"Width":1,"Height":2}\n{"Width":3,"Height":4}'), [
      { width: 1, height: 2 },
      { width: 3, height: 4 },
    ]);
  });

  test("round-trips what encodeResize writes", () => {
    assert.deepEqual(parseResize(encodeResize({ width: 200, height: 50 })), [
      { width: 200, height: 50 },
    ]);
  });

  const malformed = [
    "",
    "{",
    '{"Width":-1,"Height":2}',
    '{"Width":70000,"Height":2}',
    '{"Width":1.5,"Height":2}',
    '{"Width":"80","Height":2}',
    "[80,24]",
    '{"Width":1} trailing',
    '}{{"Width":1}',
  ];
  for (const payload of malformed) {
    test(`refuses ${JSON.stringify(payload)}`, () => {
      assert.throws(
        () => parseResize(payload),
        (error) => error instanceof ProtocolError && error.reason === "bad_resize",
      );
    });
  }
});
