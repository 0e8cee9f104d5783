import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ControlType,
  encodeControlFrame,
  encodeDataFrame,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  RstStatus,
  SpdyFrameSplitter,
  SpdyProtocolError,
} from "./spdy.ts";
import { HeaderBlockDecoder, HeaderBlockEncoder } from "./spdy-headers.ts";
import { type PortForwardEvent, SpdyPortForwardMonitor } from "./spdy-portforward.ts";

/** One side of a tunnel, with its own header compression context, as spdystream writes it. */
class Peer {
  readonly #headers = new HeaderBlockEncoder();
  readonly blocks: Buffer[] = [];

  #block(headers: Record<string, string>): Buffer {
    const block = this.#headers.encode(headers);
    this.blocks.push(block);
    return block;
  }

  open(streamId: number, headers: Record<string, string>): Buffer {
    return encodeSynStream({ streamId, headerBlock: this.#block(headers) });
  }

  reply(streamId: number, fin = false): Buffer {
    return encodeSynReply(streamId, this.#block({}), fin);
  }
}

const settings = encodeControlFrame(
  ControlType.settings,
  0,
  Buffer.from("000000010000000700010000", "hex"),
);
const ping = encodeControlFrame(ControlType.ping, 0, Buffer.from("00000001", "hex"));
const data = (streamId: number, text: string, fin = false) =>
  encodeDataFrame(streamId, Buffer.from(text), fin);
const stream = (type: string, port: string, requestid: string) => ({
  streamtype: type,
  port,
  requestid,
});

/**
 * Two connections as kubectl makes them: request 0 to port 8080 (streams
 * 1 and 3) ends with FIN both ways; request 1 to port 9090 (streams 5 and 7)
 * is reset by the client.
 */
function conversation() {
  const client = new Peer();
  const server = new Peer();
  const fromClient = Buffer.concat([
    settings,
    client.open(1, stream("error", "8080", "0")),
    data(1, "", true),
    client.open(3, stream("data", "8080", "0")),
    data(3, "GET / HTTP/1.1\r\n\r\n"),
    client.open(5, stream("error", "9090", "1")),
    data(5, "", true),
    client.open(7, stream("data", "9090", "1")),
    ping,
    data(7, "abc"),
    data(3, "", true),
    encodeRstStream(7, RstStatus.cancel),
  ]);
  const fromServer = Buffer.concat([
    settings,
    server.reply(1),
    server.reply(3),
    ping,
    data(3, "HTTP/1.1 200 OK\r\n\r\nhello"),
    server.reply(5),
    server.reply(7),
    data(7, "xy"),
    data(1, "", true),
    data(3, "", true),
  ]);
  return { fromClient, fromServer, client, server };
}

const expectedEvents: PortForwardEvent[] = [
  { kind: "connection", requestId: "0", port: 8080, errorStreamId: 1, dataStreamId: undefined },
  { kind: "connection", requestId: "1", port: 9090, errorStreamId: 5, dataStreamId: undefined },
  { kind: "closed", requestId: "1", port: 9090, bytesFromClient: 3, bytesFromServer: 0 },
  { kind: "closed", requestId: "0", port: 8080, bytesFromClient: 18, bytesFromServer: 24 },
];

function isSpdyError(reason: string) {
  return (err: unknown) => err instanceof SpdyProtocolError && err.reason === reason;
}

describe("SpdyPortForwardMonitor", () => {
  test("sees each connection's port once, then its close with the bytes each way", () => {
    const { fromClient, fromServer } = conversation();
    const monitor = new SpdyPortForwardMonitor();
    const events = [...monitor.fromClient(fromClient), ...monitor.fromServer(fromServer)];
    assert.deepEqual(events, expectedEvents);
    assert.deepEqual(monitor.connections(), [
      {
        requestId: "0",
        port: 8080,
        bytesFromClient: 18,
        bytesFromServer: 24,
        open: false,
        refused: false,
      },
      {
        requestId: "1",
        port: 9090,
        bytesFromClient: 3,
        // The server's "xy" was in flight when the client reset: relayed, so counted.
        bytesFromServer: 2,
        open: false,
        refused: false,
      },
    ]);
    assert.deepEqual(monitor.totals(), {
      connections: 2,
      open: 0,
      refused: 0,
      bytesFromClient: 21,
      bytesFromServer: 26,
      wireBytesFromClient: fromClient.length,
      wireBytesFromServer: fromServer.length,
    });
  });

  test("sees the same whatever the chunking, cut at every byte offset", () => {
    const { fromClient, fromServer } = conversation();
    for (let cut = 0; cut <= Math.max(fromClient.length, fromServer.length); cut++) {
      const monitor = new SpdyPortForwardMonitor();
      const events = [
        ...monitor.fromClient(fromClient.subarray(0, cut)),
        ...monitor.fromClient(fromClient.subarray(cut)),
        ...monitor.fromServer(fromServer.subarray(0, cut)),
        ...monitor.fromServer(fromServer.subarray(cut)),
      ];
      assert.deepEqual(events, expectedEvents, `cut at ${cut}`);
    }
    for (const size of [1, 2, 3, 7, 13]) {
      const monitor = new SpdyPortForwardMonitor();
      const events: PortForwardEvent[] = [];
      for (let i = 0; i < fromClient.length; i += size) {
        events.push(...monitor.fromClient(fromClient.subarray(i, i + size)));
      }
      for (let i = 0; i < fromServer.length; i += size) {
        events.push(...monitor.fromServer(fromServer.subarray(i, i + size)));
      }
      assert.deepEqual(events, expectedEvents, `chunks of ${size}`);
    }
  });

  test("a connection stays open until its data stream has ended both ways", () => {
    const client = new Peer();
    const server = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    monitor.fromClient(
      Buffer.concat([
        client.open(1, stream("error", "80", "0")),
        client.open(3, stream("data", "80", "0")),
      ]),
    );
    assert.deepEqual(monitor.fromClient(data(3, "q", true)), []);
    // The error stream ending says nothing about the connection.
    assert.deepEqual(
      monitor.fromServer(Buffer.concat([server.reply(1), server.reply(3), data(1, "", true)])),
      [],
    );
    assert.equal(monitor.connections()[0]?.open, true);
    assert.deepEqual(monitor.fromServer(data(3, "r", true)), [
      { kind: "closed", requestId: "0", port: 80, bytesFromClient: 1, bytesFromServer: 1 },
    ]);
  });

  test("a reset from the server closes the connection", () => {
    const client = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    monitor.fromClient(
      Buffer.concat([
        client.open(1, stream("error", "80", "0")),
        client.open(3, stream("data", "80", "0")),
      ]),
    );
    assert.equal(
      monitor.fromServer(encodeRstStream(3, RstStatus.refusedStream))[0]?.kind,
      "closed",
    );
  });

  test("reports a connection whose data stream comes first", () => {
    const client = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    assert.deepEqual(monitor.fromClient(client.open(1, stream("data", "5432", "9"))), [
      { kind: "connection", requestId: "9", port: 5432, errorStreamId: undefined, dataStreamId: 1 },
    ]);
    assert.deepEqual(monitor.fromClient(client.open(3, stream("error", "5432", "9"))), []);
  });

  test("pairs streams from clients without requestid as the kubelet does", () => {
    const client = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    const events = monitor.fromClient(
      Buffer.concat([
        client.open(1, { streamtype: "error", port: "80" }),
        client.open(3, { streamtype: "data", port: "80" }),
      ]),
    );
    assert.deepEqual(events, [
      { kind: "connection", requestId: "1", port: 80, errorStreamId: 1, dataStreamId: undefined },
    ]);
    assert.equal(monitor.connections().length, 1);
  });

  test("refuses a pair whose data stream names another port than its error stream", () => {
    const client = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    monitor.fromClient(client.open(1, stream("error", "80", "0")));
    assert.throws(
      () => monitor.fromClient(client.open(3, stream("data", "22", "0"))),
      isSpdyError("bad_stream"),
    );
  });

  for (const [name, headers] of [
    ["no port", { streamtype: "data", requestid: "0" }],
    ["port 0", stream("data", "0", "0")],
    ["a port over 65535", stream("data", "65536", "0")],
    ["an unknown stream type", stream("status", "80", "0")],
  ] as const) {
    test(`refuses a stream with ${name}`, () => {
      const monitor = new SpdyPortForwardMonitor();
      assert.throws(
        () => monitor.fromClient(new Peer().open(1, headers)),
        isSpdyError("bad_stream"),
      );
    });
  }

  test("refuses a second data stream for one request, and a reused stream id", () => {
    const client = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    monitor.fromClient(client.open(1, stream("data", "80", "0")));
    assert.throws(
      () => monitor.fromClient(client.open(3, stream("data", "80", "0"))),
      isSpdyError("bad_stream"),
    );
    const other = new SpdyPortForwardMonitor();
    const again = new Peer();
    other.fromClient(again.open(1, stream("error", "80", "0")));
    assert.throws(
      () => other.fromClient(again.open(1, stream("data", "80", "0"))),
      isSpdyError("bad_stream"),
    );
  });

  test("knows when a server frame is half through", () => {
    const monitor = new SpdyPortForwardMonitor();
    const frame = data(1, "hello");
    monitor.fromServer(frame.subarray(0, 10));
    assert.equal(monitor.serverAtBoundary, false);
    monitor.fromServer(frame.subarray(10));
    assert.equal(monitor.serverAtBoundary, true);
  });
});

describe("SpdyPortForwardMonitor.refuse", () => {
  /** What the client's SPDY stack would see: the server's frames, then ours. */
  function asClientSees(server: Peer, injected: Buffer) {
    const decoder = new HeaderBlockDecoder();
    for (const block of server.blocks) decoder.decode(block);
    return new SpdyFrameSplitter().push(injected).map((frame) => {
      if (frame.kind === "syn_reply")
        return { ...frame, headers: decoder.decode(frame.headerBlock) };
      return frame;
    });
  }

  test("replies to the error stream, writes the message with FIN and ends the data stream", () => {
    const client = new Peer();
    const server = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    // The server has already used its header context for an earlier connection.
    monitor.fromClient(
      Buffer.concat([
        client.open(1, stream("error", "80", "0")),
        client.open(3, stream("data", "80", "0")),
      ]),
    );
    monitor.fromServer(Buffer.concat([server.reply(1), server.reply(3)]));
    monitor.fromClient(
      Buffer.concat([
        client.open(5, stream("error", "22", "1")),
        client.open(7, stream("data", "22", "1")),
      ]),
    );
    const frames = asClientSees(server, monitor.refuse("1", "port 22 is not allowed"));
    assert.deepEqual(
      frames.map((frame) => {
        switch (frame.kind) {
          case "syn_reply":
            return {
              kind: frame.kind,
              streamId: frame.streamId,
              fin: frame.fin,
              headers: "headers" in frame ? frame.headers : undefined,
            };
          case "data":
            return {
              kind: frame.kind,
              streamId: frame.streamId,
              fin: frame.fin,
              text: frame.payload.toString(),
            };
          case "rst_stream":
            return { kind: frame.kind, streamId: frame.streamId, status: frame.status };
          default:
            return { kind: frame.kind };
        }
      }),
      [
        { kind: "syn_reply", streamId: 5, fin: false, headers: new Map() },
        { kind: "data", streamId: 5, fin: true, text: "port 22 is not allowed" },
        { kind: "syn_reply", streamId: 7, fin: false, headers: new Map() },
        { kind: "data", streamId: 7, fin: true, text: "" },
      ],
    );
    // Nothing more to say about it.
    assert.equal(monitor.refuse("1", "port 22 is not allowed").length, 0);
    assert.deepEqual(
      monitor.connections().map((c) => [c.requestId, c.open, c.refused]),
      [
        ["0", true, false],
        ["1", false, true],
      ],
    );
    assert.equal(monitor.totals().refused, 1);
  });

  test("called again once the data stream opens, it answers and ends only that stream", () => {
    const client = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    monitor.fromClient(client.open(1, stream("error", "22", "0")));
    const first = asClientSees(new Peer(), monitor.refuse("0", "no"));
    assert.deepEqual(
      first.map((frame) => [frame.kind, "streamId" in frame ? frame.streamId : 0]),
      [
        ["syn_reply", 1],
        ["data", 1],
      ],
    );
    monitor.fromClient(client.open(3, stream("data", "22", "0")));
    const second = new SpdyFrameSplitter().push(monitor.refuse("0", "no"));
    assert.deepEqual(
      second.map((frame) => [
        frame.kind,
        "streamId" in frame ? frame.streamId : 0,
        "fin" in frame && frame.fin,
      ]),
      [
        ["syn_reply", 3, false],
        ["data", 3, true],
      ],
    );
  });

  test("opens the server's compression stream when the server has sent no header block yet", () => {
    const client = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    monitor.fromClient(client.open(1, stream("error", "22", "0")));
    const frames = asClientSees(new Peer(), monitor.refuse("0", "no"));
    assert.deepEqual(
      frames.map((frame) => frame.kind),
      ["syn_reply", "data"],
    );
    assert.deepEqual(
      frames[0] && "headers" in frames[0] ? frames[0].headers : undefined,
      new Map(),
    );
  });

  test("sends no reply of its own once the server has replied", () => {
    const client = new Peer();
    const server = new Peer();
    const monitor = new SpdyPortForwardMonitor();
    monitor.fromClient(client.open(1, stream("error", "22", "0")));
    monitor.fromServer(server.reply(1));
    const frames = new SpdyFrameSplitter().push(monitor.refuse("0", "no"));
    assert.deepEqual(
      frames.map((frame) => [frame.kind, frame.kind === "data" && frame.fin]),
      [["data", true]],
    );
  });

  test("refuses only connections it has seen", () => {
    assert.throws(() => new SpdyPortForwardMonitor().refuse("0", "no"));
  });
});
