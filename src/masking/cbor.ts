/**
 * Re-encodes a masked JSON response as CBOR, for clients that accept CBOR
 * but not JSON (see negotiate.ts), byte for byte as kube-apiserver's CBOR serializer
 * (k8s.io/apimachinery/pkg/runtime/serializer/cbor, v0.37) writes the same
 * object when it holds it as unstructured JSON:
 *
 * - Every item is enclosed in tag 55799, "self-described CBOR": the bytes
 *   d9 d9 f7 are the magic number Kubernetes recognises CBOR by.
 * - Strings, map keys included, are CBOR *byte* strings of their UTF-8, not
 *   text strings (its `String: StringToByteString` option). This matters:
 *   a typed client refuses a text string where a `[]byte` field is (Secret
 *   `data`), and reads a byte string there as the base64 text JSON carries.
 * - Map keys are sorted bytewise by their encoding (RFC 8949 §4.2.1), which
 *   for byte strings means shorter keys first, then byte order.
 * - Integers are CBOR integers, in the shortest head; other numbers are the
 *   shortest float (16, 32 or 64 bits) that holds the value exactly. The
 *   decoder reads integers as int64 and refuses NaN, ±Inf and bignums, so an
 *   integer beyond int64 is written as a float, as the apiserver's JSON
 *   decoding would have made it.
 * - Definite lengths only; null, true and false are the simple values.
 *
 * A watch stream is an RFC 8742 CBOR Sequence (`application/cbor-seq`): one
 * item per event, nothing between them. Each event is a WatchEvent map
 * `{type, object}` whose object is itself tagged 55799, because the apiserver
 * encodes the object on its own and embeds those bytes (runtime.RawExtension).
 *
 * For built-in kinds the apiserver encodes its typed objects instead: with
 * keys in random order (it serves CBOR in nondeterministic mode) and `[]byte`
 * fields (Secret `data`) as tag 22 around the raw bytes. Tried against 1.37.2,
 * its answers and ours decode, typed and untyped, to the same objects; byte
 * equality holds against its deterministic unstructured encoding (cbor.test.ts).
 *
 * cbor2 writes the heads, integers, floats and buffers; this module decides the
 * Kubernetes shape. cbor2's own `encode` of a plain object would write text
 * strings and encode every map key through a fresh buffer to sort it.
 */
import { defaultEncodeOptions, writeBigInt, writeFloat, writeInt, writeTag } from "cbor2/encoder";
import { Writer } from "cbor2/writer";

const selfDescribedTag = 55799;

/** CBOR major types (RFC 8949 §3.1) written by hand here. */
const majorByteString = 2;
const majorArray = 4;
const majorMap = 5;
const simpleFalse = 0xf4;
const simpleTrue = 0xf5;
const simpleNull = 0xf6;

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** cbor2's shortest-float writer, with the guard rails the Kubernetes decoder expects. */
const encodeOptions = {
  ...defaultEncodeOptions,
  collapseBigInts: true,
  rejectBigInts: true,
  rejectUndefined: true,
};

const utf8 = new TextEncoder();

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
const watchEventTypes: ReadonlySet<string> = new Set([
  "ADDED",
  "MODIFIED",
  "DELETED",
  "BOOKMARK",
  "ERROR",
]);

/** A watch event as the JSON watch stream carries it. */
export interface WatchEvent {
  type: WatchEventType;
  object: unknown;
}

/** Thrown for a value JSON cannot carry (undefined, NaN, a Date, a cycle…). */
export class NotJsonError extends TypeError {
  constructor(path: readonly (string | number)[], what: string) {
    super(`cannot encode ${what} at ${describePath(path)} as CBOR: not a JSON value`);
    this.name = "NotJsonError";
  }
}

/** One object (or list, Table, Status…) as an `application/cbor` body. */
export function encodeCbor(value: unknown): Uint8Array {
  const encoding = startEncoding();
  writeTag(selfDescribedTag, encoding.writer, encodeOptions);
  writeValue(value, encoding);
  return encoding.writer.read();
}

/** One event of an `application/cbor-seq` watch stream; concatenate them to frame the stream. */
export function encodeWatchEvent(event: WatchEvent): Uint8Array {
  if (!watchEventTypes.has(event.type)) {
    throw new NotJsonError(["type"], `watch event type ${JSON.stringify(event.type)}`);
  }
  const encoding = startEncoding();
  const { writer } = encoding;
  writeTag(selfDescribedTag, writer, encodeOptions);
  writeInt(2, writer, majorMap);
  // Sorted as the encoder sorts keys: "type" (4 bytes) before "object" (6).
  writeBytes(utf8.encode("type"), writer);
  writeBytes(utf8.encode(event.type), writer);
  writeBytes(utf8.encode("object"), writer);
  writeTag(selfDescribedTag, writer, encodeOptions);
  encoding.path.push("object");
  writeValue(event.object, encoding);
  return writer.read();
}

/**
 * Far deeper than any Kubernetes object, and shallow enough to fail cleanly
 * before the stack would (a cycle ends here too).
 */
const maxDepth = 1000;

interface Encoding {
  writer: Writer;
  /** Keys and indexes down to the value being written, for error messages. */
  path: (string | number)[];
}

function startEncoding(): Encoding {
  return { writer: new Writer({ chunkSize: 16 << 10 }), path: [] };
}

function writeValue(value: unknown, encoding: Encoding): void {
  const { writer, path } = encoding;
  switch (typeof value) {
    case "string":
      writeBytes(utf8.encode(value), writer);
      return;
    case "number":
      writeNumber(value, encoding);
      return;
    case "bigint":
      writeInteger(value, encoding);
      return;
    case "boolean":
      writer.writeUint8(value ? simpleTrue : simpleFalse);
      return;
    case "object":
      if (value === null) {
        writer.writeUint8(simpleNull);
        return;
      }
      if (path.length >= maxDepth) throw new NotJsonError(path, `nesting deeper than ${maxDepth}`);
      if (Array.isArray(value)) writeArray(value, encoding);
      else if (isPlainObject(value)) writeMap(value, encoding);
      else throw new NotJsonError(path, `a ${value.constructor?.name ?? "non-plain"} object`);
      return;
    default:
      throw new NotJsonError(path, typeof value);
  }
}

function writeNumber(value: number, encoding: Encoding): void {
  if (!Number.isFinite(value)) throw new NotJsonError(encoding.path, String(value));
  if (!Number.isInteger(value)) {
    writeFloat(value, encoding.writer, encodeOptions);
  } else if (Number.isSafeInteger(value)) {
    // -0 is an integer to JSON ("-0" decodes to int64 0), so it is written as 0.
    writeInt(value === 0 ? 0 : value, encoding.writer);
  } else {
    // Beyond 2^53 the JSON parser has already rounded; keep it an integer if int64 holds it.
    writeInteger(BigInt(value), encoding);
  }
}

function writeInteger(value: bigint, encoding: Encoding): void {
  if (value >= int64Min && value <= int64Max) {
    writeBigInt(value, encoding.writer, encodeOptions);
    return;
  }
  const approximate = Number(value);
  if (!Number.isFinite(approximate)) {
    throw new NotJsonError(encoding.path, "an integer beyond float64");
  }
  writeFloat(approximate, encoding.writer, encodeOptions);
}

function writeBytes(bytes: Uint8Array, writer: Writer): void {
  writeInt(bytes.length, writer, majorByteString);
  writer.write(bytes);
}

function writeArray(items: unknown[], encoding: Encoding): void {
  writeInt(items.length, encoding.writer, majorArray);
  for (let i = 0; i < items.length; i++) {
    encoding.path.push(i);
    writeValue(items[i], encoding);
    encoding.path.pop();
  }
}

function writeMap(object: Record<string, unknown>, encoding: Encoding): void {
  const entries = Object.keys(object).map((key) => ({ key, bytes: utf8.encode(key) }));
  entries.sort((a, b) => compareEncodedByteStrings(a.bytes, b.bytes));
  writeInt(entries.length, encoding.writer, majorMap);
  for (const { key, bytes } of entries) {
    writeBytes(bytes, encoding.writer);
    encoding.path.push(key);
    writeValue(object[key], encoding);
    encoding.path.pop();
  }
}

function describePath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "the top level";
  const shown = path.length > 10 ? [...path.slice(0, 5), "…", ...path.slice(-5)] : path;
  return shown.map((part) => (typeof part === "number" ? `[${part}]` : `.${part}`)).join("");
}

/**
 * Bytewise order of two byte strings' encodings. The head carries the length
 * and grows with it, so a shorter string always sorts first.
 */
export function compareEncodedByteStrings(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    const diff = (a[i] as number) - (b[i] as number);
    if (diff !== 0) return diff;
  }
  return 0;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
