import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { constants, deflateSync, inflateSync } from "node:zlib";
import { Inflate, Z_NEED_DICT, Z_SYNC_FLUSH } from "pako";
import {
  ControlType,
  encodeControlFrame,
  encodeDataFrame,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  type SpdyFrame,
  SpdyFrameSplitter,
  SpdyProtocolError,
} from "./spdy.ts";
import {
  HeaderBlockDecoder,
  HeaderBlockEncoder,
  maxHeaderBlockLength,
  parseHeaderBlock,
  serializeHeaderBlock,
  spdyDictionary,
  storedHeaderBlock,
} from "./spdy-headers.ts";

function isSpdyError(reason: string) {
  return (err: unknown) => err instanceof SpdyProtocolError && err.reason === reason;
}

/** A block compressed by real zlib, as a Go or C peer would send it. */
function zlibBlock(plain: Buffer): Buffer {
  return deflateSync(plain, { dictionary: spdyDictionary, finishFlush: constants.Z_SYNC_FLUSH });
}

function u32(...values: number[]): Buffer {
  const out = Buffer.alloc(4 * values.length);
  values.forEach((value, i) => {
    out.writeUInt32BE(value, 4 * i);
  });
  return out;
}

const encoder = new HeaderBlockEncoder();
const everyKind = Buffer.concat([
  encodeControlFrame(ControlType.settings, 0, Buffer.concat([u32(1), u32(0x07, 65536)])),
  encodeSynStream({
    streamId: 5,
    priority: 3,
    fin: true,
    headerBlock: encoder.encode({ streamtype: "error", port: "8080" }),
  }),
  encodeSynReply(5, encoder.encode({}), false),
  encodeDataFrame(5, Buffer.from("hello"), true),
  encodeDataFrame(7, Buffer.alloc(0), false),
  encodeRstStream(5, 5),
  encodeControlFrame(ControlType.ping, 0, u32(1)),
  encodeControlFrame(ControlType.windowUpdate, 0, u32(5, 1024)),
  encodeControlFrame(ControlType.goAway, 0, u32(5, 0)),
]);

function strip(frames: SpdyFrame[]) {
  return frames.map((frame) => ({ ...frame, raw: frame.raw.toString("hex") }));
}

describe("SpdyFrameSplitter", () => {
  const whole = new SpdyFrameSplitter().push(everyKind);

  test("decodes each frame kind's fields", () => {
    assert.deepEqual(
      whole.map((frame) => frame.kind),
      [
        "control",
        "syn_stream",
        "syn_reply",
        "data",
        "data",
        "rst_stream",
        "control",
        "control",
        "control",
      ],
    );
    const [settings, syn, reply, data, , rst] = whole;
    assert.equal(settings?.kind === "control" && settings.type, ControlType.settings);
    assert.ok(syn?.kind === "syn_stream");
    assert.deepEqual(
      [syn.streamId, syn.associatedStreamId, syn.priority, syn.fin],
      [5, 0, 3, true],
    );
    assert.ok(reply?.kind === "syn_reply" && reply.streamId === 5 && !reply.fin);
    assert.ok(data?.kind === "data");
    assert.deepEqual([data.streamId, data.fin, data.payload.toString()], [5, true, "hello"]);
    assert.ok(rst?.kind === "rst_stream" && rst.streamId === 5 && rst.status === 5);
    assert.deepEqual(Buffer.concat(whole.map((frame) => frame.raw)), everyKind);
  });

  test("yields the same frames however the stream is cut in two", () => {
    for (let cut = 0; cut <= everyKind.length; cut++) {
      const splitter = new SpdyFrameSplitter();
      const frames = [
        ...splitter.push(everyKind.subarray(0, cut)),
        ...splitter.push(everyKind.subarray(cut)),
      ];
      assert.deepEqual(strip(frames), strip(whole), `cut at ${cut}`);
      assert.ok(splitter.atBoundary);
    }
  });

  test("yields the same frames one byte at a time, and knows when it is between frames", () => {
    const splitter = new SpdyFrameSplitter();
    const frames: SpdyFrame[] = [];
    const boundaries: number[] = [];
    for (let i = 0; i < everyKind.length; i++) {
      frames.push(...splitter.push(everyKind.subarray(i, i + 1)));
      if (splitter.atBoundary) boundaries.push(i + 1);
    }
    assert.deepEqual(strip(frames), strip(whole));
    let end = 0;
    assert.deepEqual(
      boundaries,
      whole.map((frame) => {
        end += frame.raw.length;
        return end;
      }),
    );
  });

  test("refuses a frame over the length limit as soon as its header is in", () => {
    const splitter = new SpdyFrameSplitter({ maxFrameLength: 100 });
    assert.equal(splitter.push(encodeDataFrame(1, Buffer.alloc(100))).length, 1);
    const oversize = encodeDataFrame(1, Buffer.alloc(101)).subarray(0, 8);
    assert.throws(() => splitter.push(oversize), isSpdyError("frame_too_large"));
    // Broken for good: later bytes are not parsed as if nothing happened.
    assert.throws(
      () => splitter.push(encodeDataFrame(1, Buffer.alloc(1))),
      isSpdyError("frame_too_large"),
    );
  });

  test("refuses a control frame that is not version 3", () => {
    const frame = encodeControlFrame(ControlType.ping, 0, u32(1));
    frame.writeUInt16BE(0x8002, 0);
    assert.throws(() => new SpdyFrameSplitter().push(frame), isSpdyError("bad_version"));
  });

  for (const [name, frame] of [
    ["a RST_STREAM of 4 bytes", encodeControlFrame(ControlType.rstStream, 0, u32(1))],
    [
      "a SYN_STREAM without its fixed fields",
      encodeControlFrame(ControlType.synStream, 0, u32(1, 0)),
    ],
    [
      "a SYN_REPLY without a stream id",
      encodeControlFrame(ControlType.synReply, 0, Buffer.alloc(2)),
    ],
  ] as const) {
    test(`refuses ${name}`, () => {
      assert.throws(() => new SpdyFrameSplitter().push(frame), isSpdyError("bad_frame"));
    });
  }
});

describe("frame encoders", () => {
  test("lay out data and RST_STREAM frames as the spec draws them", () => {
    assert.equal(
      encodeDataFrame(1, Buffer.from("hi"), true).toString("hex"),
      "00000001010000026869",
    );
    assert.equal(encodeRstStream(3, 3).toString("hex"), "80030003000000080000000300000003");
    assert.equal(
      encodeSynStream({ streamId: 1, priority: 7, headerBlock: Buffer.from("ab") }).toString("hex"),
      "800300010000000c0000000100000000e0006162",
    );
  });
});

describe("header blocks", () => {
  const headers: Record<string, string | string[]>[] = [
    { streamtype: "error", port: "8080", requestid: "0" },
    { streamtype: "data", port: "8080", requestid: "0" },
    { streamtype: "error", port: "9090", requestid: "1", multi: ["a", "b"] },
  ];

  test("round-trip through one stateful context, later blocks leaning on earlier ones", () => {
    const encoder = new HeaderBlockEncoder();
    const decoder = new HeaderBlockDecoder();
    const blocks = headers.map((h) => encoder.encode(h));
    blocks.forEach((block, i) => {
      const expected = new Map(
        Object.entries(headers[i] ?? {}).map(([k, v]) => [k, typeof v === "string" ? [v] : v]),
      );
      assert.deepEqual(decoder.decode(block), expected);
    });
    assert.ok((blocks[1]?.length ?? 0) < (blocks[0]?.length ?? 0) / 2);
    // The second block means nothing without the first.
    assert.throws(
      () => new HeaderBlockDecoder().decode(blocks[1] as Buffer),
      isSpdyError("bad_header_block"),
    );
  });

  test("the dictionary is the spec's: its zlib id is the e3c6a7c2 real SPDY/3 peers announce", () => {
    assert.equal(spdyDictionary.length, 1423);
    const first = new HeaderBlockEncoder().encode(headers[0] ?? {});
    assert.ok(((first[1] as number) & 0x20) !== 0, "FDICT set");
    assert.equal(first.subarray(2, 6).toString("hex"), "e3c6a7c2");
    const plain = new Inflate();
    plain.push(first, Z_SYNC_FLUSH);
    assert.equal(plain.err, Z_NEED_DICT);
  });

  test("interoperates with real zlib in both directions", () => {
    const plain = serializeHeaderBlock({ streamtype: "data", port: "53", requestid: "7" });
    assert.deepEqual(
      inflateSync(
        new HeaderBlockEncoder().encode({ streamtype: "data", port: "53", requestid: "7" }),
        {
          dictionary: spdyDictionary,
          finishFlush: constants.Z_SYNC_FLUSH,
        },
      ),
      plain,
    );
    assert.deepEqual(
      new HeaderBlockDecoder().decode(zlibBlock(plain)),
      new Map([
        ["streamtype", ["data"]],
        ["port", ["53"]],
        ["requestid", ["7"]],
      ]),
    );
  });

  const pair = (name: string, value: string) =>
    Buffer.concat([u32(name.length), Buffer.from(name), u32(value.length), Buffer.from(value)]);
  for (const [name, block] of [
    ["no pair count", Buffer.alloc(2)],
    ["more pairs than fit", Buffer.concat([u32(2), pair("a", "b")])],
    ["a name running past the end", Buffer.concat([u32(1), u32(50), Buffer.from("port")])],
    [
      "a value running past the end",
      Buffer.concat([u32(1), u32(1), Buffer.from("a"), u32(9), Buffer.from("b")]),
    ],
    ["a huge name length", Buffer.concat([u32(1), u32(0xffffffff), Buffer.alloc(8)])],
    ["bytes after the last pair", Buffer.concat([u32(1), pair("a", "b"), Buffer.alloc(1)])],
    ["an empty name", Buffer.concat([u32(1), pair("", "b")])],
    ["an upper-case name", Buffer.concat([u32(1), pair("Port", "80")])],
    ["a repeated name", Buffer.concat([u32(2), pair("port", "80"), pair("port", "22")])],
  ] as const) {
    test(`refuses a block with ${name}`, () => {
      assert.throws(() => parseHeaderBlock(block), isSpdyError("bad_header_block"));
      assert.throws(
        () => new HeaderBlockDecoder().decode(zlibBlock(block)),
        isSpdyError("bad_header_block"),
      );
    });
  }

  test("refuses bytes that do not inflate, and stays broken", () => {
    const decoder = new HeaderBlockDecoder();
    const good = zlibBlock(serializeHeaderBlock({ a: "b" }));
    const corrupt = Buffer.from(good);
    corrupt[0] = 0x00;
    assert.throws(() => decoder.decode(corrupt), isSpdyError("bad_header_block"));
    assert.throws(() => decoder.decode(good), isSpdyError("bad_header_block"));
  });

  test(`refuses a block inflating past ${maxHeaderBlockLength} bytes`, () => {
    const bomb = new HeaderBlockEncoder().encode({ a: "x".repeat(maxHeaderBlockLength) });
    assert.ok(bomb.length < 4096);
    assert.throws(() => new HeaderBlockDecoder().decode(bomb), isSpdyError("bad_header_block"));
  });

  test("a stored block decodes at a fresh peer and at one mid-stream", () => {
    const want = new Map([["status", ["ok"]]]);
    assert.deepEqual(
      new HeaderBlockDecoder().decode(storedHeaderBlock({ status: "ok" }, true)),
      want,
    );
    const encoder = new HeaderBlockEncoder();
    const decoder = new HeaderBlockDecoder();
    for (const h of headers) decoder.decode(encoder.encode(h));
    assert.deepEqual(decoder.decode(storedHeaderBlock({ status: "ok" }, false)), want);
  });
});

test("a stored header block ends with a sync flush, as Go's flate needs to hand it out", () => {
  // Without the empty stored block after it, Go's flate reads past the frame
  // for the next block header and spdystream fails the frame (e2e: kubectl
  // then drops the tunnel instead of printing why a port was refused).
  for (const first of [true, false]) {
    const block = storedHeaderBlock({ a: "b" }, first);
    assert.deepEqual([...block.subarray(-5)], [0x00, 0x00, 0x00, 0xff, 0xff]);
  }
});
