/**
 * SPDY/3 header blocks and their compression: one zlib context per
 * direction for the whole connection, primed with the fixed dictionary of
 * the spec (section 2.6.10.1), each block ending with a sync flush. Frames
 * are in ./spdy.ts.
 */
import { Deflate, Inflate, Z_SYNC_FLUSH } from "pako";
import { SpdyProtocolError } from "./spdy.ts";

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
