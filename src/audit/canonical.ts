import canonicalize from "canonicalize";

/**
 * RFC 8785 (JCS) canonical JSON: the exact bytes each record is hashed as,
 * so anyone can re-derive a leaf from the stored record. The library refuses
 * what JCS cannot represent (NaN, Infinity, lone surrogates, cycles).
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error("value has no JSON representation");
  return text;
}
