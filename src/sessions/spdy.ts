/**
 * SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00), as far as a relay needs
 * it to watch a tunnel passively and to inject a few frames of its own.
 *
 * Every frame has an 8-byte header. A control frame sets the top bit, then a
 * 15-bit version (3), a 16-bit type, 8 bits of flags and a 24-bit length; a
 * data frame has a 31-bit stream id, flags (FIN = 1) and the length.
 * SYN_STREAM, SYN_REPLY and HEADERS carry a header block compressed with ONE
 * zlib context per direction for the whole connection, primed with the fixed
 * dictionary below; each block ends with a sync flush. So a relay that skips
 * or drops a single header block loses every later one: frames can be
 * watched and added, never removed.
 */

import { Deflate, Inflate, Z_SYNC_FLUSH } from "pako";
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

/*
 * Header blocks. Decompressed, a block is a 32-bit pair count, then for each
 * pair a 32-bit name length, the name (lower case), a 32-bit value length
 * and the value, several values of one name joined by NUL bytes.
 */

/** Length-prefixed words that open the SPDY/3 dictionary (spec section 2.6.10.1). */
const dictionaryWords = (
  "options|head|post|put|delete|trace|accept|accept-charset|accept-encoding|" +
  "accept-language|accept-ranges|age|allow|authorization|cache-control|connection|" +
  "content-base|content-encoding|content-language|content-length|content-location|" +
  "content-md5|content-range|content-type|date|etag|expect|expires|from|host|if-match|" +
  "if-modified-since|if-none-match|if-range|if-unmodified-since|last-modified|location|" +
  "max-forwards|pragma|proxy-authenticate|proxy-authorization|range|referer|retry-after|" +
  "server|te|trailer|transfer-encoding|upgrade|user-agent|vary|via|warning|" +
  "www-authenticate|method|get|status|200 OK|version|HTTP/1.1|url|public|set-cookie|" +
  "keep-alive|origin"
).split("|");

/** The dictionary's unprefixed tail. */
const dictionaryTail =
  "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505" +
  "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request" +
  "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented" +
  "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 " +
  "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif," +
  "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=" +
  "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/** The zlib dictionary both header contexts are primed with: 1423 bytes. */
export const spdyDictionary: Buffer = Buffer.concat([
  ...dictionaryWords.map((word) => lengthPrefixed(Buffer.from(word, "latin1"))),
  Buffer.from(dictionaryTail, "latin1"),
]);

/** A decompressed header block larger than this is refused (a zlib bomb, or abuse). */
export const maxHeaderBlockLength = 256 * 1024;

export type SpdyHeaders = Map<string, string[]>;

function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A decompressed header block into names and values, every length checked. */
export function parseHeaderBlock(block: Buffer): SpdyHeaders {
  let offset = 0;
  const read = (what: string): Buffer => {
    if (block.length - offset < 4) throw badBlock(`truncated before the ${what} length`);
    const length = block.readUInt32BE(offset);
    offset += 4;
    if (length > block.length - offset)
      throw badBlock(`${what} of ${length} bytes runs past the block`);
    offset += length;
    return block.subarray(offset - length, offset);
  };
  if (block.length < 4) throw badBlock("no pair count");
  const count = block.readUInt32BE(0);
  offset = 4;
  // Each pair takes at least 9 bytes (two lengths and a name byte).
  if (count > (block.length - 4) / 9) throw badBlock(`${count} pairs cannot fit`);
  const headers: SpdyHeaders = new Map();
  for (let i = 0; i < count; i++) {
    const name = read("name").toString("latin1");
    const value = read("value").toString("utf8");
    if (name.length === 0 || name !== name.toLowerCase())
      throw badBlock(`bad header name ${JSON.stringify(name)}`);
    if (headers.has(name)) throw badBlock(`header ${name} appears twice`);
    headers.set(name, value.split("\0"));
  }
  if (offset !== block.length) throw badBlock(`${block.length - offset} bytes after the last pair`);
  return headers;
}

/** Names are lower-cased; several values of one name are joined by NUL. */
export function serializeHeaderBlock(headers: Record<string, string | readonly string[]>): Buffer {
  const entries = Object.entries(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  return Buffer.concat([
    count,
    ...entries.flatMap(([name, value]) => [
      lengthPrefixed(Buffer.from(name.toLowerCase(), "latin1")),
      lengthPrefixed(Buffer.from(typeof value === "string" ? value : value.join("\0"), "utf8")),
    ]),
  ]);
}

function badBlock(message: string): SpdyProtocolError {
  return new SpdyProtocolError("bad_header_block", `header block: ${message}`);
}

/**
 * One direction's header decompression. Every header block that direction
 * sends must pass through decode(), in order, or the context desynchronises.
 * A block that does not inflate breaks the context for good.
 */
export class HeaderBlockDecoder {
  readonly #inflate = new Inflate({ dictionary: spdyDictionary, chunkSize: 16 * 1024 });
  #output: Uint8Array[] = [];
  #outputLength = 0;
  #blocks = 0;
  #failure: SpdyProtocolError | undefined;

  constructor() {
    this.#inflate.onData = (chunk) => {
      this.#outputLength += chunk.length;
      if (this.#outputLength > maxHeaderBlockLength) {
        throw badBlock(`inflates past ${maxHeaderBlockLength} bytes`);
      }
      this.#output.push(chunk);
    };
  }

  /** How many blocks this context has decoded: 0 means the zlib header is still to come. */
  get blocks(): number {
    return this.#blocks;
  }

  decode(block: Buffer): SpdyHeaders {
    if (this.#failure !== undefined) throw this.#failure;
    this.#output = [];
    this.#outputLength = 0;
    try {
      const ok = this.#inflate.push(block, Z_SYNC_FLUSH);
      if (!ok) throw badBlock(`does not inflate (${this.#inflate.msg || this.#inflate.err})`);
      if (this.#inflate.ended) throw badBlock("ended the connection's compression stream");
    } catch (err) {
      this.#failure = err instanceof SpdyProtocolError ? err : badBlock(String(err));
      throw this.#failure;
    }
    this.#blocks += 1;
    return parseHeaderBlock(Buffer.concat(this.#output, this.#outputLength));
  }
}

/** One direction's header compression, as a SPDY/3 peer does it. */
export class HeaderBlockEncoder {
  readonly #deflate = new Deflate({ dictionary: spdyDictionary });
  #output: Uint8Array[] = [];

  constructor() {
    this.#deflate.onData = (chunk) => {
      this.#output.push(chunk);
    };
  }

  encode(headers: Record<string, string | readonly string[]>): Buffer {
    this.#output = [];
    if (!this.#deflate.push(serializeHeaderBlock(headers), Z_SYNC_FLUSH)) {
      throw new Error(`deflate failed: ${this.#deflate.msg}`);
    }
    return Buffer.concat(this.#output);
  }
}

/**
 * A header block that a peer's decompressor accepts without our knowing the
 * sender's compression state: a stored (uncompressed) deflate block, which
 * refers to no history. It fits only where the sender's stream is between
 * blocks (each ends with a sync flush, so the decompressor is byte-aligned),
 * and before the sender's first block it needs the zlib header, naming the
 * dictionary. Afterwards the sender's own blocks no longer decode at that
 * peer (its window now holds our bytes), so only a stream that is about to
 * end can take one.
 */
export function storedHeaderBlock(
  headers: Record<string, string | readonly string[]>,
  firstInStream: boolean,
): Buffer {
  const data = serializeHeaderBlock(headers);
  if (data.length > 0xffff) throw new RangeError("a stored header block holds at most 65535 bytes");
  const stored = Buffer.alloc(5);
  stored[0] = 0x00; // BFINAL 0, BTYPE 00 (stored), then padding to the byte
  stored.writeUInt16LE(data.length, 1);
  stored.writeUInt16LE(~data.length & 0xffff, 3);
  // Ended like a sender's own block, with a sync flush (an empty stored
  // block): Go's flate hands out a stored block's bytes only at the next
  // block, and must not need the next frame's bytes to do so; without the
  // marker the read runs past the frame and spdystream's framer fails.
  const block = Buffer.concat([stored, data, syncFlushMarker]);
  if (!firstInStream) return block;
  const zlibHeader = Buffer.alloc(6);
  zlibHeader[0] = 0x78; // deflate, 32 KiB window
  zlibHeader[1] = 0x20 | (31 - ((0x78 * 256 + 0x20) % 31)); // FDICT, FCHECK
  zlibHeader.writeUInt32BE(adler32(spdyDictionary), 2);
  return Buffer.concat([zlibHeader, block]);
}

/** An empty stored block: what a zlib sync flush writes. */
const syncFlushMarker = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}
