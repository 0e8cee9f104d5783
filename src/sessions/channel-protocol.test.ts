import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  Channel,
  closedChannel,
  decodeFrame,
  encodeClose,
  encodeFrame,
  negotiate,
  offeredProtocols,
  type Protocol,
  ProtocolError,
  type ProtocolErrorReason,
  remoteCommandProtocols,
} from "./channel-protocol.ts";

describe("negotiate", () => {
  const cases: { offered: string[]; chosen: Protocol | undefined }[] = [
    { offered: ["v5.channel.k8s.io", "v4.channel.k8s.io"], chosen: "v5.channel.k8s.io" },
    // v5 anywhere sends the request to the apiserver's translator, which speaks only v5.
    { offered: ["v4.channel.k8s.io", "v5.channel.k8s.io"], chosen: "v5.channel.k8s.io" },
    {
      offered: ["v4.base64.channel.k8s.io", "v4.channel.k8s.io"],
      chosen: "v4.base64.channel.k8s.io",
    },
    { offered: ["channel.k8s.io", "v4.channel.k8s.io"], chosen: "channel.k8s.io" },
    { offered: ["unknown.k8s.io", "base64.channel.k8s.io"], chosen: "base64.channel.k8s.io" },
    { offered: ["v3.channel.k8s.io", "v2.channel.k8s.io"], chosen: undefined },
    { offered: ["SPDY/3.1+portforward.k8s.io"], chosen: undefined },
    { offered: [], chosen: undefined },
  ];
  for (const { offered, chosen } of cases) {
    test(`picks ${chosen} from [${offered.join(", ")}]`, () => {
      assert.equal(negotiate(offered), chosen);
    });
  }

  test("reads comma-separated and repeated Sec-WebSocket-Protocol values", () => {
    const header = ["v5.channel.k8s.io, v4.channel.k8s.io", " base64.channel.k8s.io ,"];
    assert.deepEqual(offeredProtocols(header), [
      "v5.channel.k8s.io",
      "v4.channel.k8s.io",
      "base64.channel.k8s.io",
    ]);
    assert.deepEqual(offeredProtocols(undefined), []);
  });
});

describe("decodeFrame", () => {
  test("a binary frame's first byte is the channel", () => {
    const frame = decodeFrame("v5.channel.k8s.io", Buffer.from("\x01hi\n"), true);
    assert.deepEqual(frame, { channel: Channel.stdout, payload: Buffer.from("hi\n") });
  });

  test("a base64 frame's first character is the channel digit", () => {
    // From wsstream's documentation: "\n" on stdout.
    const frame = decodeFrame("v4.base64.channel.k8s.io", "1Cg==", false);
    assert.deepEqual(frame, { channel: Channel.stdout, payload: Buffer.from("\n") });
  });

  test("an empty message is no frame, as the apiserver skips it", () => {
    assert.equal(decodeFrame("v4.channel.k8s.io", Buffer.alloc(0), true), null);
    assert.equal(decodeFrame("base64.channel.k8s.io", "", false), null);
  });

  test("the empty frame that announces the stream decodes to an empty payload", () => {
    assert.deepEqual(decodeFrame("v5.channel.k8s.io", Buffer.of(1), true), {
      channel: 1,
      payload: Buffer.alloc(0),
    });
  });

  test("a v5 close frame names the channel it closes", () => {
    const frame = decodeFrame("v5.channel.k8s.io", Buffer.of(255, 0), true);
    assert.equal(frame?.channel, Channel.close);
    assert.equal(closedChannel(frame?.payload ?? Buffer.alloc(0)), Channel.stdin);
  });

  const malformed: {
    name: string;
    protocol: Protocol;
    data: Buffer | string;
    binary: boolean;
    reason: ProtocolErrorReason;
  }[] = [
    {
      name: "a text message on a binary protocol",
      protocol: "v5.channel.k8s.io",
      data: "\x00hi",
      binary: false,
      reason: "wrong_frame_type",
    },
    {
      name: "a binary message on a base64 protocol",
      protocol: "v4.base64.channel.k8s.io",
      data: Buffer.from("0aGk="),
      binary: true,
      reason: "wrong_frame_type",
    },
    {
      name: "a base64 frame without a channel digit",
      protocol: "base64.channel.k8s.io",
      data: "xaGk=",
      binary: false,
      reason: "bad_channel",
    },
    {
      name: "base64 that Go's StdEncoding refuses",
      protocol: "v4.base64.channel.k8s.io",
      data: "0aGk",
      binary: false,
      reason: "bad_base64",
    },
    {
      name: "a channel beyond resize",
      protocol: "v4.channel.k8s.io",
      data: Buffer.of(5, 0x41),
      binary: true,
      reason: "bad_channel",
    },
    {
      name: "a close frame before v5",
      protocol: "v4.channel.k8s.io",
      data: Buffer.of(255, 0),
      binary: true,
      reason: "bad_channel",
    },
    {
      name: "a close frame naming no channel",
      protocol: "v5.channel.k8s.io",
      data: Buffer.of(255),
      binary: true,
      reason: "bad_close",
    },
    {
      name: "a close frame naming two channels",
      protocol: "v5.channel.k8s.io",
      data: Buffer.of(255, 0, 1),
      binary: true,
      reason: "bad_close",
    },
  ];
  for (const { name, protocol, data, binary, reason } of malformed) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => decodeFrame(protocol, data, binary),
        (error) => error instanceof ProtocolError && error.reason === reason,
      );
    });
  }

  test("a ProtocolError renders as a bad request", () => {
    const error = new ProtocolError("bad_channel", "no channel 9");
    assert.equal(error.code, "bad_request");
  });
});

describe("encodeFrame", () => {
  test("binary protocols prefix the channel byte", () => {
    assert.deepEqual(encodeFrame("v4.channel.k8s.io", 0, "foo\n"), Buffer.from("\x00foo\n"));
  });

  test("base64 protocols write the digit and base64 text", () => {
    assert.equal(encodeFrame("base64.channel.k8s.io", 0, "foo\n"), "0Zm9vCg==");
  });

  test("every protocol decodes what it encodes, on every exec channel", () => {
    const payload = Buffer.from([0, 1, 2, 250, 255, 0x0a]);
    for (const protocol of remoteCommandProtocols) {
      for (const channel of [0, 1, 2, 3, 4]) {
        const data = encodeFrame(protocol, channel, payload);
        const decoded = decodeFrame(protocol, data, typeof data !== "string");
        assert.deepEqual(decoded, { channel, payload }, `${protocol} channel ${channel}`);
      }
    }
  });

  test("a close frame is channel 255 and the channel closed, in v5 only", () => {
    assert.deepEqual(encodeClose("v5.channel.k8s.io", Channel.stdin), Buffer.of(255, 0));
    assert.throws(() => encodeClose("v4.channel.k8s.io", Channel.stdin), ProtocolError);
  });

  test("refuses channels that are not a byte, or not a digit in base64", () => {
    assert.throws(() => encodeFrame("v5.channel.k8s.io", 256, ""), ProtocolError);
    assert.throws(() => encodeFrame("v4.base64.channel.k8s.io", 10, ""), ProtocolError);
  });
});
