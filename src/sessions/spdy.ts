/**
 * SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00), as far as a relay needs
 * it to watch a tunnel passively and to inject a few frames of its own.
 *
 * Every frame has an 8-byte header. A control frame sets the top bit, then a
 * 15-bit version (3), a 16-bit type, 8 bits of flags and a 24-bit length; a
 * data frame has a 31-bit stream id, flags (FIN = 1) and the length.
 * SYN_STREAM, SYN_REPLY and HEADERS carry a header block compressed with ONE
 * zlib context per direction for the whole connection, primed with the fixed
 * dictionary (./spdy-headers.ts); each block ends with a sync flush. So a relay that skips
 * or drops a single header block loses every later one: frames can be
 * watched and added, never removed.
 */

import { ReasonedError } from "../errors.ts";

export type SpdyProtocolErrorReason =
  | "frame_too_large"
  | "bad_version"
  | "bad_frame"
  | "bad_header_block"
  | "bad_stream";

/** Bytes that break SPDY/3 or the protocol tunnelled in it. The tunnel cannot continue. */
export class SpdyProtocolError extends ReasonedError<SpdyProtocolErrorReason> {
  constructor(reason: SpdyProtocolErrorReason, message: string) {
    super("SpdyProtocolError", "bad_request", reason, message);
  }
}

export const ControlType = {
  synStream: 1,
  synReply: 2,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goAway: 7,
  headers: 8,
  windowUpdate: 9,
} as const;

/** RST_STREAM status codes. */
export const RstStatus = {
  protocolError: 1,
  invalidStream: 2,
  refusedStream: 3,
  unsupportedVersion: 4,
  cancel: 5,
  internalError: 6,
  flowControlError: 7,
  streamInUse: 8,
  streamAlreadyClosed: 9,
  invalidCredentials: 10,
  frameTooLarge: 11,
} as const;

/** FLAG_FIN, on data frames and on SYN_STREAM, SYN_REPLY and HEADERS. */
export const FLAG_FIN = 0x01;
export const FRAME_HEADER_LENGTH = 8;
const MAX_LENGTH_FIELD = 0xffffff;
const MAX_STREAM_ID = 0x7fffffff;

interface FrameBase {
  /** The whole frame as it came, header included: a view into the pushed bytes. */
  raw: Buffer;
}

export interface DataFrame extends FrameBase {
  kind: "data";
  streamId: number;
  fin: boolean;
  payload: Buffer;
}

export interface SynStreamFrame extends FrameBase {
  kind: "syn_stream";
  streamId: number;
  associatedStreamId: number;
  priority: number;
  fin: boolean;
  headerBlock: Buffer;
}

export interface SynReplyFrame extends FrameBase {
  kind: "syn_reply";
  streamId: number;
  fin: boolean;
  headerBlock: Buffer;
}

export interface HeadersFrame extends FrameBase {
  kind: "headers";
  streamId: number;
  fin: boolean;
  headerBlock: Buffer;
}

export interface RstStreamFrame extends FrameBase {
  kind: "rst_stream";
  streamId: number;
  status: number;
}

/** SETTINGS, PING, GOAWAY, WINDOW_UPDATE and anything newer, undecoded. */
export interface OtherControlFrame extends FrameBase {
  kind: "control";
  type: number;
  flags: number;
  payload: Buffer;
}

export type SpdyFrame =
  | DataFrame
  | SynStreamFrame
  | SynReplyFrame
  | HeadersFrame
  | RstStreamFrame
  | OtherControlFrame;

export const defaultMaxFrameLength = 16 * 1024 * 1024;

/**
 * Cuts a byte stream into frames, whatever the chunking. Holds at most one
 * partial frame; a frame announcing more than `maxFrameLength` payload bytes
 * is refused as soon as its header is complete. After it has thrown, it
 * throws the same error again: a broken stream stays broken.
 */
export class SpdyFrameSplitter {
  readonly #maxFrameLength: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the frame being collected, once its header is complete. */
  #frameLength: number | undefined;
  #failure: SpdyProtocolError | undefined;

  constructor(options: { maxFrameLength?: number } = {}) {
    this.#maxFrameLength = options.maxFrameLength ?? defaultMaxFrameLength;
  }

  /** No partial frame held: bytes of our own can go in now without corrupting the stream. */
  get atBoundary(): boolean {
    return this.#buffered === 0;
  }

  push(chunk: Buffer): SpdyFrame[] {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      return this.#split(chunk);
    } catch (err) {
      if (err instanceof SpdyProtocolError) this.#failure = err;
      throw err;
    }
  }

  #split(chunk: Buffer): SpdyFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: SpdyFrame[] = [];
    for (;;) {
      if (this.#frameLength === undefined) {
        if (this.#buffered < FRAME_HEADER_LENGTH) break;
        this.#frameLength = FRAME_HEADER_LENGTH + this.#checkHeader(this.#head());
      }
      if (this.#buffered < this.#frameLength) break;
      frames.push(decodeFrame(this.#take(this.#frameLength)));
      this.#frameLength = undefined;
    }
    return frames;
  }

  #checkHeader(head: Buffer): number {
    const length = head.readUIntBE(5, 3);
    if (length > this.#maxFrameLength) {
      throw new SpdyProtocolError(
        "frame_too_large",
        `a ${length}-byte frame is over the ${this.#maxFrameLength}-byte limit`,
      );
    }
    const first = head.readUInt16BE(0);
    if (first & 0x8000 && (first & 0x7fff) !== 3) {
      throw new SpdyProtocolError("bad_version", `SPDY version ${first & 0x7fff}, not 3`);
    }
    return length;
  }

  /** The buffered bytes as one buffer starting with at least a frame header. */
  #head(): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= FRAME_HEADER_LENGTH) return first;
    const joined = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [joined];
    return joined;
  }

  #take(length: number): Buffer {
    const joined =
      this.#chunks.length === 1
        ? (this.#chunks[0] as Buffer)
        : Buffer.concat(this.#chunks, this.#buffered);
    const rest = joined.subarray(length);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return joined.subarray(0, length);
  }
}

/** One complete frame, header included. */
export function decodeFrame(raw: Buffer): SpdyFrame {
  const flags = raw[4] as number;
  const fin = (flags & FLAG_FIN) !== 0;
  const payload = raw.subarray(FRAME_HEADER_LENGTH);
  if ((raw[0] as number) < 0x80) {
    return { kind: "data", raw, streamId: raw.readUInt32BE(0), fin, payload };
  }
  const type = raw.readUInt16BE(2);
  switch (type) {
    case ControlType.synStream:
      atLeast(payload, 10, "SYN_STREAM");
      return {
        kind: "syn_stream",
        raw,
        streamId: streamIdAt(payload, 0),
        associatedStreamId: streamIdAt(payload, 4),
        priority: (payload[8] as number) >> 5,
        fin,
        headerBlock: payload.subarray(10),
      };
    case ControlType.synReply:
    case ControlType.headers:
      atLeast(payload, 4, type === ControlType.synReply ? "SYN_REPLY" : "HEADERS");
      return {
        kind: type === ControlType.synReply ? "syn_reply" : "headers",
        raw,
        streamId: streamIdAt(payload, 0),
        fin,
        headerBlock: payload.subarray(4),
      };
    case ControlType.rstStream:
      if (payload.length !== 8) {
        throw new SpdyProtocolError("bad_frame", `RST_STREAM of ${payload.length} bytes, not 8`);
      }
      return {
        kind: "rst_stream",
        raw,
        streamId: streamIdAt(payload, 0),
        status: payload.readUInt32BE(4),
      };
    default:
      return { kind: "control", raw, type, flags, payload };
  }
}

function atLeast(payload: Buffer, length: number, name: string): void {
  if (payload.length < length) {
    throw new SpdyProtocolError("bad_frame", `${name} of ${payload.length} bytes, under ${length}`);
  }
}

function streamIdAt(payload: Buffer, offset: number): number {
  return payload.readUInt32BE(offset) & MAX_STREAM_ID;
}

function frameHeader(first: number, flags: number, length: number): Buffer {
  if (length > MAX_LENGTH_FIELD) throw new RangeError(`a frame cannot carry ${length} bytes`);
  const header = Buffer.alloc(FRAME_HEADER_LENGTH);
  header.writeUInt32BE(first >>> 0, 0);
  header.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return header;
}

function checkStreamId(streamId: number): number {
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > MAX_STREAM_ID) {
    throw new RangeError(`not a stream id: ${streamId}`);
  }
  return streamId;
}

export function encodeControlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const first = (0x8000 | 3) * 0x10000 + type;
  return Buffer.concat([frameHeader(first, flags, payload.length), payload]);
}

export function encodeDataFrame(streamId: number, payload: Buffer, fin = false): Buffer {
  return Buffer.concat([
    frameHeader(checkStreamId(streamId), fin ? FLAG_FIN : 0, payload.length),
    payload,
  ]);
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(checkStreamId(streamId), 0);
  payload.writeUInt32BE(status, 4);
  return encodeControlFrame(ControlType.rstStream, 0, payload);
}

export interface SynStreamOptions {
  streamId: number;
  associatedStreamId?: number;
  /** 0 (highest) to 7. */
  priority?: number;
  fin?: boolean;
  /** Already compressed, by the sending direction's HeaderBlockEncoder. */
  headerBlock: Buffer;
}

export function encodeSynStream(options: SynStreamOptions): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(checkStreamId(options.streamId), 0);
  fixed.writeUInt32BE(checkStreamId(options.associatedStreamId ?? 0), 4);
  fixed[8] = ((options.priority ?? 0) & 0x07) << 5;
  const payload = Buffer.concat([fixed, options.headerBlock]);
  return encodeControlFrame(ControlType.synStream, options.fin ? FLAG_FIN : 0, payload);
}

export function encodeSynReply(streamId: number, headerBlock: Buffer, fin = false): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(checkStreamId(streamId));
  return encodeControlFrame(
    ControlType.synReply,
    fin ? FLAG_FIN : 0,
    Buffer.concat([id, headerBlock]),
  );
}
