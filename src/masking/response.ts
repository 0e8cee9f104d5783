/**
 * Masking one HTTP response body: picks the masker for what the API server
 * sent (JSON objects, lists, tables and watch streams through the JSON
 * rewriter; pod logs line by line) and reports each masked value to the
 * call's tally. A body the masker cannot read is never passed through.
 */
import type { RequestInfo } from "../kube/request-info.ts";
import { encodeCbor, encodeWatchEvent, type WatchEvent } from "./cbor.ts";
import { JsonRewriter } from "./json/rewriter.ts";
import type { MaskingProfile } from "./profiles.ts";
import type { MaskTally } from "./tally.ts";
import { TextMasker } from "./text-stream.ts";

/** Chunk in, masked bytes out; `end` returns the rest or throws when the body was malformed. */
export interface BodyMasker {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
}

/** Kinds whose fields the JSON rewriter treats specially, by core resource. */
const coreKinds: Record<string, string> = {
  secrets: "Secret",
  configmaps: "ConfigMap",
  pods: "Pod",
};

/** The kind a top-level object of this request would be, when the request says. */
export function kindHint(info: RequestInfo): string | undefined {
  if (!info.isResourceRequest || info.apiGroup !== "" || info.subresource !== "") return undefined;
  return coreKinds[info.resource];
}

export function jsonBodyMasker(
  profile: MaskingProfile,
  info: RequestInfo,
  tally: MaskTally,
): BodyMasker {
  return new JsonRewriter({
    engine: profile.engine,
    secretData: profile.secretData,
    fieldRules: profile.fieldRules,
    kindHint: kindHint(info),
    hashKey: profile.hashKey,
    onMasked: (detector, path) => tally.add(detector, path),
  });
}

export function textBodyMasker(
  profile: MaskingProfile,
  tally: MaskTally,
  path: string,
): BodyMasker {
  const masker = new TextMasker(profile.engine, {
    onFinding: (detector: string) => tally.add(detector, path),
  });
  return {
    push: (chunk) => Buffer.concat(masker.push(chunk)),
    end: () => Buffer.concat(masker.end()),
  };
}

/** Largest single CBOR answer (one object or list) assembled in memory. */
export const MAX_CBOR_BYTES = 64 << 20;

/**
 * Re-encodes masked JSON as CBOR for a client that accepts only CBOR. A
 * watch stream is converted event by event (events end with a newline in
 * the API server's JSON watch stream); any other answer is one value and is
 * assembled whole, up to MAX_CBOR_BYTES: the CBOR encoder needs the value.
 */
export function cborBodyMasker(json: BodyMasker, watch: boolean): BodyMasker {
  let pending = "";
  const convert = (text: string, final: boolean): Buffer => {
    pending += text;
    if (!watch) {
      if (pending.length > MAX_CBOR_BYTES) {
        throw new Error(`a CBOR answer larger than ${MAX_CBOR_BYTES} bytes is not assembled`);
      }
      if (!final) return Buffer.alloc(0);
      const out = Buffer.from(encodeCbor(JSON.parse(pending)));
      pending = "";
      return out;
    }
    const parts: Uint8Array[] = [];
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      const event = pending.slice(0, newline).trim();
      if (event !== "") parts.push(encodeWatchEvent(JSON.parse(event) as WatchEvent));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
    if (final && pending.trim() !== "") {
      parts.push(encodeWatchEvent(JSON.parse(pending) as WatchEvent));
      pending = "";
    }
    if (pending.length > MAX_CBOR_BYTES) throw new Error("a watch event is too large");
    return Buffer.concat(parts);
  };
  return {
    push: (chunk) => convert(json.push(chunk).toString("utf8"), false),
    end: () => convert(json.end().toString("utf8"), true),
  };
}
