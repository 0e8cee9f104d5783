/**
 * Watches a SPDY/3.1 port-forward tunnel (`portforward.k8s.io`, raw or inside
 * `SPDY/3.1+portforward.k8s.io` WebSocket messages) without changing a byte.
 *
 * For each local connection, client-go opens two streams carrying the same
 * `port` and `requestid` headers: first `streamtype: error` (the server
 * writes a plain-text message there if forwarding fails), then `streamtype:
 * data`. Data flows as DATA frames on the data stream both ways; a stream
 * ends with FIN from each side, or RST_STREAM from either. Clients older
 * than the `requestid` header get one derived from the stream id, as the
 * kubelet does (error stream: its id; data stream: its id minus 2).
 *
 * The kubelet dials the port named by the DATA stream, so a pair whose two
 * streams disagree on the port is a protocol error here: the gateway judges
 * the port on the first stream and must not be outflanked by the second.
 *
 * Refusing a connection cannot drop its frames: header blocks share one
 * compression context per direction, so removing a SYN_STREAM breaks every
 * later one at the server. The gateway writes refuse()'s bytes to the client
 * while `serverAtBoundary` holds, then ends the whole tunnel (both ways).
 */

import {
  encodeDataFrame,
  encodeSynReply,
  type SpdyFrame,
  SpdyFrameSplitter,
  SpdyProtocolError,
} from "./spdy.ts";
import { HeaderBlockDecoder, type SpdyHeaders, storedHeaderBlock } from "./spdy-headers.ts";

export type PortForwardEvent =
  | {
      kind: "connection";
      requestId: string;
      port: number;
      /** Undefined when the client opened the data stream first. */
      errorStreamId: number | undefined;
      dataStreamId: number | undefined;
    }
  | {
      kind: "closed";
      requestId: string;
      port: number;
      bytesFromClient: number;
      bytesFromServer: number;
    };

export interface PortForwardConnectionSummary {
  requestId: string;
  port: number;
  /**
   * DATA payload bytes on the data stream, each way. They keep counting after
   * the close: frames in flight when a stream was reset still cross the relay.
   */
  bytesFromClient: number;
  bytesFromServer: number;
  open: boolean;
  refused: boolean;
}

export interface PortForwardTotals {
  connections: number;
  open: number;
  refused: number;
  /** DATA payload bytes on data streams. */
  bytesFromClient: number;
  bytesFromServer: number;
  /** Every byte seen, frame headers and all. */
  wireBytesFromClient: number;
  wireBytesFromServer: number;
}

type StreamType = "error" | "data";

interface Connection {
  requestId: string;
  port: number;
  errorStreamId: number | undefined;
  dataStreamId: number | undefined;
  bytesFromClient: number;
  bytesFromServer: number;
  clientFinished: boolean;
  serverFinished: boolean;
  closed: boolean;
  refused: boolean;
}

interface Stream {
  connection: Connection;
  type: StreamType;
  /** The server has sent SYN_REPLY. */
  replied: boolean;
  /** The server has half-closed (FIN) or someone reset it. */
  serverDone: boolean;
}

type Direction = "client" | "server";

export class SpdyPortForwardMonitor {
  readonly #splitters = { client: new SpdyFrameSplitter(), server: new SpdyFrameSplitter() };
  readonly #decoders = { client: new HeaderBlockDecoder(), server: new HeaderBlockDecoder() };
  readonly #connections = new Map<string, Connection>();
  readonly #streams = new Map<number, Stream>();
  readonly #wire = { client: 0, server: 0 };
  /** refuse() has sent the client a server header block of ours. */
  #injectedHeaderBlock = false;

  fromClient(chunk: Buffer): PortForwardEvent[] {
    return this.#observe("client", chunk);
  }

  fromServer(chunk: Buffer): PortForwardEvent[] {
    return this.#observe("server", chunk);
  }

  /** No partial server frame is pending: refuse()'s bytes may go to the client now. */
  get serverAtBoundary(): boolean {
    return this.#splitters.server.atBoundary;
  }

  connections(): PortForwardConnectionSummary[] {
    return [...this.#connections.values()].map((c) => ({
      requestId: c.requestId,
      port: c.port,
      bytesFromClient: c.bytesFromClient,
      bytesFromServer: c.bytesFromServer,
      open: !c.closed,
      refused: c.refused,
    }));
  }

  totals(): PortForwardTotals {
    const all = this.connections();
    const sum = (pick: (c: PortForwardConnectionSummary) => number) =>
      all.reduce((total, c) => total + pick(c), 0);
    return {
      connections: all.length,
      open: all.filter((c) => c.open).length,
      refused: all.filter((c) => c.refused).length,
      bytesFromClient: sum((c) => c.bytesFromClient),
      bytesFromServer: sum((c) => c.bytesFromServer),
      wireBytesFromClient: this.#wire.client,
      wireBytesFromServer: this.#wire.server,
    };
  }

  /**
   * Bytes that tell the client why its connection is refused: the message on
   * the error stream (after a SYN_REPLY of ours if the server has not replied
   * yet, since client-go waits for one before it goes on), then a reply to
   * the data stream, if it exists, that ends it at once. client-go opens the
   * data stream only after the error stream's reply, so call this again
   * once the data stream has opened: each call returns only what was not
   * yet sent (possibly nothing). Write the bytes only while
   * `serverAtBoundary`, then end the tunnel: the injected replies have
   * desynchronised the client's header decompressor from the server.
   * A refused connection reports no "closed" event.
   */
  refuse(requestId: string, message: string): Buffer {
    const connection = this.#connections.get(requestId);
    if (connection === undefined) throw new Error(`no port-forward connection ${requestId}`);
    const parts: Buffer[] = [];
    const error = this.#stream(connection.errorStreamId);
    if (connection.errorStreamId !== undefined && error !== undefined && !error.serverDone) {
      if (!error.replied) parts.push(this.#reply(connection.errorStreamId));
      parts.push(encodeDataFrame(connection.errorStreamId, Buffer.from(message), true));
      error.replied = true;
      error.serverDone = true;
    }
    const data = this.#stream(connection.dataStreamId);
    if (connection.dataStreamId !== undefined && data !== undefined && !data.serverDone) {
      // Answered and ended at once (not reset): client-go's create of the data
      // stream succeeds, its copy sees end of stream, and it then prints the
      // error stream's message. A reset would fail the create and hide it.
      if (!data.replied) parts.push(this.#reply(connection.dataStreamId));
      parts.push(encodeDataFrame(connection.dataStreamId, Buffer.alloc(0), true));
      data.replied = true;
      data.serverDone = true;
    }
    connection.refused = true;
    connection.closed = true;
    return Buffer.concat(parts);
  }

  #reply(streamId: number, fin = false): Buffer {
    const first = this.#decoders.server.blocks === 0 && !this.#injectedHeaderBlock;
    this.#injectedHeaderBlock = true;
    return encodeSynReply(streamId, storedHeaderBlock({}, first), fin);
  }

  #stream(streamId: number | undefined): Stream | undefined {
    return streamId === undefined ? undefined : this.#streams.get(streamId);
  }

  #observe(from: Direction, chunk: Buffer): PortForwardEvent[] {
    this.#wire[from] += chunk.length;
    const events: PortForwardEvent[] = [];
    for (const frame of this.#splitters[from].push(chunk)) {
      for (const event of this.#frame(from, frame)) {
        if (event !== undefined) events.push(event);
      }
    }
    return events;
  }

  #frame(from: Direction, frame: SpdyFrame): (PortForwardEvent | undefined)[] {
    switch (frame.kind) {
      case "syn_stream": {
        // Decoded whichever way it goes, to keep the compression context in step.
        const headers = this.#decoders[from].decode(frame.headerBlock);
        // The kubelet never opens streams; whatever a server opens carries no forwarded port.
        if (from === "server") return [];
        return [this.#open(frame.streamId, headers), this.#end(from, frame.streamId, frame.fin)];
      }
      case "syn_reply":
      case "headers": {
        this.#decoders[from].decode(frame.headerBlock);
        const stream = this.#streams.get(frame.streamId);
        if (stream !== undefined && from === "server" && frame.kind === "syn_reply") {
          stream.replied = true;
        }
        return [this.#end(from, frame.streamId, frame.fin)];
      }
      case "data": {
        const stream = this.#streams.get(frame.streamId);
        if (stream?.type === "data") {
          if (from === "client") stream.connection.bytesFromClient += frame.payload.length;
          else stream.connection.bytesFromServer += frame.payload.length;
        }
        return [this.#end(from, frame.streamId, frame.fin)];
      }
      case "rst_stream":
        return [this.#reset(frame.streamId)];
      case "control":
        return [];
    }
  }

  #open(streamId: number, headers: SpdyHeaders): PortForwardEvent | undefined {
    if (this.#streams.has(streamId) || streamId % 2 === 0) {
      throw new SpdyProtocolError("bad_stream", `client stream id ${streamId} is not new and odd`);
    }
    const type = single(headers, "streamtype");
    if (type !== "error" && type !== "data") {
      throw new SpdyProtocolError(
        "bad_stream",
        `stream ${streamId} has streamtype ${String(type)}`,
      );
    }
    const port = parsePort(single(headers, "port"), streamId);
    const requestId =
      single(headers, "requestid") ?? String(type === "error" ? streamId : streamId - 2);
    const existing = this.#connections.get(requestId);
    const connection = existing ?? newConnection(requestId, port);
    if (connection.port !== port) {
      throw new SpdyProtocolError(
        "bad_stream",
        `request ${requestId} opened port ${connection.port} and then port ${port}`,
      );
    }
    const key = type === "error" ? "errorStreamId" : "dataStreamId";
    if (connection[key] !== undefined) {
      throw new SpdyProtocolError(
        "bad_stream",
        `request ${requestId} opened a second ${type} stream`,
      );
    }
    connection[key] = streamId;
    this.#streams.set(streamId, { connection, type, replied: false, serverDone: false });
    if (existing !== undefined) return undefined;
    this.#connections.set(requestId, connection);
    return {
      kind: "connection",
      requestId,
      port,
      errorStreamId: connection.errorStreamId,
      dataStreamId: connection.dataStreamId,
    };
  }

  #end(from: Direction, streamId: number, fin: boolean): PortForwardEvent | undefined {
    if (!fin) return undefined;
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return undefined;
    if (from === "server") stream.serverDone = true;
    if (stream.type !== "data") return undefined;
    const connection = stream.connection;
    if (from === "client") connection.clientFinished = true;
    else connection.serverFinished = true;
    return connection.clientFinished && connection.serverFinished ? close(connection) : undefined;
  }

  #reset(streamId: number): PortForwardEvent | undefined {
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return undefined;
    stream.serverDone = true;
    return stream.type === "data" ? close(stream.connection) : undefined;
  }
}

function newConnection(requestId: string, port: number): Connection {
  return {
    requestId,
    port,
    errorStreamId: undefined,
    dataStreamId: undefined,
    bytesFromClient: 0,
    bytesFromServer: 0,
    clientFinished: false,
    serverFinished: false,
    closed: false,
    refused: false,
  };
}

/** The first "closed" for a connection; nothing once it is closed (or refused). */
function close(connection: Connection): PortForwardEvent | undefined {
  if (connection.closed) return undefined;
  connection.closed = true;
  return {
    kind: "closed",
    requestId: connection.requestId,
    port: connection.port,
    bytesFromClient: connection.bytesFromClient,
    bytesFromServer: connection.bytesFromServer,
  };
}

function single(headers: SpdyHeaders, name: string): string | undefined {
  const values = headers.get(name);
  if (values === undefined) return undefined;
  if (values.length !== 1) {
    throw new SpdyProtocolError("bad_stream", `header ${name} has ${values.length} values`);
  }
  return values[0];
}

/** As the kubelet reads it: a decimal 16-bit port, and not 0. */
function parsePort(text: string | undefined, streamId: number): number {
  const port = text !== undefined && /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 0xffff)) {
    throw new SpdyProtocolError(
      "bad_stream",
      `stream ${streamId} has port ${JSON.stringify(text)}`,
    );
  }
  return port;
}
