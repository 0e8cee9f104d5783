/**
 * Media types and Accept headers (RFC 9110 §8.3.1, §12.5.1), parsed the way
 * the gateway needs them to rewrite an Accept header: type, subtype and
 * parameter names lower-cased (they are case-insensitive), parameter values
 * kept as written (`as=Table` is case-sensitive to Kubernetes), the weight
 * taken out as `q`, and each range's position kept for tie-breaking.
 *
 * The parser is lenient the way kube-apiserver's (goautoneg) is: a malformed
 * element of the list is skipped, not fatal.
 */

export interface MediaType {
  type: string;
  subtype: string;
  /** In the order written, names lower-cased, `q` excluded. */
  params: [name: string, value: string][];
}

export interface MediaRange extends MediaType {
  /** The weight, 0 to 1; 1 when not given. 0 means "not acceptable". */
  q: number;
  /** Position in the header, from 0. */
  index: number;
}

const tokenChar = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const qvalue = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Splits on `separator` outside quoted strings. */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A token, or a quoted-string unescaped; null when it is neither. */
function parameterValue(raw: string): string | null {
  if (tokenChar.test(raw)) return raw;
  if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"')) return null;
  const inner = raw.slice(1, -1);
  let value = "";
  for (let i = 0; i < inner.length; i++) {
    let c = inner[i] as string;
    if (c === "\\") {
      i++;
      if (i === inner.length) return null;
      c = inner[i] as string;
    } else if (c === '"') {
      return null;
    }
    value += c;
  }
  return value;
}

/** `type/subtype` then `;name=value` parameters, or null when malformed. */
function parseOne(
  text: string,
): { type: string; subtype: string; params: [string, string][] } | null {
  const [typePart = "", ...paramParts] = splitOutsideQuotes(text, ";");
  const slash = typePart.indexOf("/");
  if (slash < 0) return null;
  const type = typePart.slice(0, slash).trim().toLowerCase();
  const subtype = typePart
    .slice(slash + 1)
    .trim()
    .toLowerCase();
  if (!tokenChar.test(type) || !tokenChar.test(subtype)) return null;
  const params: [string, string][] = [];
  for (const part of paramParts) {
    if (part.trim() === "") continue;
    const equals = part.indexOf("=");
    if (equals < 0) return null;
    const name = part.slice(0, equals).trim().toLowerCase();
    const value = parameterValue(part.slice(equals + 1).trim());
    if (!tokenChar.test(name) || value === null) return null;
    params.push([name, value]);
  }
  return { type, subtype, params };
}

/** A Content-Type value, or null when it is missing or malformed. */
export function parseMediaType(value: string | undefined): MediaType | null {
  if (value === undefined) return null;
  const parsed = parseOne(value);
  if (parsed === null || parsed.type === "*" || parsed.subtype === "*") return null;
  return parsed;
}

/** An Accept header's media ranges in the order written; malformed elements are left out. */
export function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  const elements = splitOutsideQuotes(header, ",");
  for (let index = 0; index < elements.length; index++) {
    const element = (elements[index] as string).trim();
    if (element === "") continue;
    const parsed = parseOne(element);
    if (parsed === null || (parsed.type === "*" && parsed.subtype !== "*")) continue;
    const weight = parsed.params.find(([name]) => name === "q");
    if (weight !== undefined && !qvalue.test(weight[1])) continue;
    ranges.push({
      type: parsed.type,
      subtype: parsed.subtype,
      params: parsed.params.filter(([name]) => name !== "q"),
      q: weight === undefined ? 1 : Number(weight[1]),
      index,
    });
  }
  return ranges;
}

function formatValue(value: string): string {
  return tokenChar.test(value) ? value : `"${value.replace(/["\\]/g, "\\$&")}"`;
}

/** `type/subtype;name=value…`, with `;q=` last when below 1. */
export function formatMediaRange(range: MediaType & { q?: number }): string {
  let text = `${range.type}/${range.subtype}`;
  for (const [name, value] of range.params) text += `;${name}=${formatValue(value)}`;
  if (range.q !== undefined && range.q < 1) text += `;q=${range.q}`;
  return text;
}
