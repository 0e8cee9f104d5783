/**
 * Request classification with the Kubernetes API server's own rules
 * (k8s.io/apiserver RequestInfoFactory.NewRequestInfo, v1.31+ behaviour).
 * Policy decides on what this returns, so it must read a request exactly as the
 * apiserver will; a request target the two could read differently is refused first.
 */

import { PortcullisError } from "../errors.ts";

export interface RequestInfo {
  isResourceRequest: boolean;
  /** The decoded, validated path. */
  path: string;
  /** Kube verb for resource requests; the lowercased HTTP method otherwise. */
  verb: string;
  apiPrefix: string;
  /** "" for the core group. */
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** Path parts from the resource on: resource/name/subresource/... */
  parts: string[];
}

const API_PREFIXES = new Set(["api", "apis"]);
const GROUPLESS_API_PREFIXES = new Set(["api"]);
/** Deprecated path prefixes that name the verb themselves: /api/v1/watch/pods. */
const SPECIAL_VERBS = new Set(["proxy", "watch"]);
/** `proxy` passes the rest of the path through, so nothing after the name is a subresource. */
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(["proxy"]);
/** After /namespaces/{ns}, these are the namespace's own subresources, not namespaced resources. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);
/** Exact, case-sensitive method names, as Go's switch compares them. */
const METHOD_VERBS = new Map([
  ["POST", "create"],
  ["GET", "get"],
  ["HEAD", "get"],
  ["PUT", "update"],
  ["PATCH", "patch"],
  ["DELETE", "delete"],
]);
const CONTROL_CHARACTER = /\p{Cc}/u;

/** Classifies a request from its method and request-target (the raw URL of the request line). */
export function classifyRequest(method: string, rawUrl: string): RequestInfo {
  const { path, segments, query } = parseRequestTarget(rawUrl);
  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiPrefix: "",
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
    parts: [],
  };
  if (segments.length < 3 || !API_PREFIXES.has(segments[0])) return info;
  info.apiPrefix = segments[0];
  let rest = segments.slice(1);
  if (!GROUPLESS_API_PREFIXES.has(info.apiPrefix)) {
    // The apiserver has already recorded apiPrefix here, so /apis/apps/v1 keeps "apis".
    if (rest.length < 3) return info;
    info.apiGroup = rest[0];
    rest = rest.slice(1);
  }
  info.isResourceRequest = true;
  info.apiVersion = rest[0];
  rest = rest.slice(1);

  if (SPECIAL_VERBS.has(rest[0])) {
    if (rest.length < 2) {
      throw new PortcullisError(
        "bad_request",
        `portcullis: cannot classify ${quote(rawUrl)}: /${rest[0]} must be followed by a resource`,
      );
    }
    info.verb = rest[0];
    rest = rest.slice(1);
  } else {
    info.verb = METHOD_VERBS.get(method) ?? "";
  }

  // /namespaces/{ns} alone is the namespace object; /namespaces/{ns}/{resource}/... is namespaced.
  if (rest[0] === "namespaces" && rest.length > 1) {
    info.namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2])) rest = rest.slice(2);
  }
  info.parts = rest;
  info.resource = rest[0] ?? "";
  info.name = rest[1] ?? "";
  if (!SPECIAL_VERBS_NO_SUBRESOURCES.has(info.verb)) info.subresource = rest[2] ?? "";

  // A get without a name is a collection read: list, or watch when ?watch says so.
  if (info.name === "" && info.verb === "get") {
    const options = decodeListOptions(query, rawUrl);
    info.verb = options.watch ? "watch" : "list";
    info.name = options.name;
  }
  if (info.name === "" && info.verb === "delete") info.verb = "deletecollection";
  return info;
}

interface RequestTarget {
  path: string;
  segments: string[];
  query: URLSearchParams;
}

function parseRequestTarget(rawUrl: string): RequestTarget {
  if (!rawUrl.startsWith("/")) {
    const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(rawUrl);
    throw refusal(rawUrl, absolute ? "absolute-form URL" : "path must start with /");
  }
  const odd = /[^\x21-\x7e]/.exec(rawUrl)?.[0];
  if (odd !== undefined && CONTROL_CHARACTER.test(odd)) throw refusal(rawUrl, "control character");
  if (odd !== undefined) throw refusal(rawUrl, "raw space or non-ASCII character");
  // Clients never send a fragment; one here means the URL was built by something confused.
  if (rawUrl.includes("#")) throw refusal(rawUrl, "fragment (#)");
  const queryAt = rawUrl.indexOf("?");
  const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  const rawQuery = queryAt === -1 ? "" : rawUrl.slice(queryAt + 1);

  const rawSegments = rawPath.slice(1).split("/");
  const decoded = rawSegments.map((raw, i) =>
    decodeSegment(raw, i === rawSegments.length - 1, rawUrl),
  );
  const path = `/${decoded.join("/")}`;
  // One trailing slash is harmless: the apiserver trims it before splitting.
  if (decoded.at(-1) === "") decoded.pop();
  return { path, segments: decoded, query: parseQuery(rawQuery, rawUrl) };
}

/** Decodes one path segment, refusing anything a proxy or the apiserver might read another way. */
function decodeSegment(raw: string, isLast: boolean, rawUrl: string): string {
  if (raw === "") {
    if (isLast) return "";
    throw refusal(rawUrl, "empty path segment (//)");
  }
  const segment = percentDecode(raw);
  if (segment === undefined) throw refusal(rawUrl, "invalid percent-encoding");
  if (segment.includes("/")) throw refusal(rawUrl, "encoded slash");
  if (segment.includes("\\")) throw refusal(rawUrl, "backslash");
  if (CONTROL_CHARACTER.test(segment)) throw refusal(rawUrl, "encoded control character");
  if (segment === "." || segment === "..") throw refusal(rawUrl, "dot segment");
  return segment;
}

/**
 * Go's url.ParseQuery silently drops pairs containing ";" or a bad escape, where
 * URLSearchParams keeps them; refusing both makes the two parsers agree.
 */
function parseQuery(rawQuery: string, rawUrl: string): URLSearchParams {
  for (const pair of rawQuery.split("&")) {
    if (pair.includes(";")) throw refusal(rawUrl, "semicolon in query");
    if (percentDecode(pair.replaceAll("+", " ")) === undefined) {
      throw refusal(rawUrl, "invalid percent-encoding in query");
    }
  }
  return new URLSearchParams(rawQuery);
}

/** Strict percent-decoding: undefined for a stray % or bytes that are not UTF-8. */
function percentDecode(raw: string): string | undefined {
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

interface ListOptions {
  watch: boolean;
  name: string;
}

/**
 * The two ListOptions fields that change classification. The apiserver reads
 * `watch` as true unless its first value is "0" or "false" (any case); it takes a
 * name from `fieldSelector=metadata.name=X` only when all list options decode.
 */
function decodeListOptions(query: URLSearchParams, rawUrl: string): ListOptions {
  const watchValue = query.get("watch");
  // Versions differ on non-ASCII (EqualFold treats "ſ" as "s"; ToLower does not).
  if (watchValue !== null && /[^\p{ASCII}]/u.test(watchValue)) {
    throw refusal(rawUrl, "non-ASCII watch parameter");
  }
  const watch = watchValue !== null && watchValue !== "0" && watchValue.toLowerCase() !== "false";
  if (!isGoInt64(query.get("limit")) || !isGoInt64(query.get("timeoutSeconds"))) {
    return { watch, name: "" };
  }
  const name = fieldSelectorName(query.get("fieldSelector") ?? "");
  return { watch, name: name !== undefined && isValidPathSegmentName(name) ? name : "" };
}

/** strconv.ParseInt(s, 10, 64) succeeds; an absent parameter is never decoded. */
function isGoInt64(value: string | null): boolean {
  if (value === null) return true;
  if (!/^[+-]?[0-9]+$/.test(value)) return false;
  const n = BigInt(value);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

/**
 * fields.ParseSelector then RequiresExactMatch("metadata.name"): undefined if the
 * selector does not parse or has no such `=`/`==` term. Terms are sorted
 * bytewise first, so the smallest matching term wins.
 */
function fieldSelectorName(selector: string): string | undefined {
  const terms = splitSelectorTerms(selector).sort((a, b) =>
    Buffer.compare(Buffer.from(a), Buffer.from(b)),
  );
  let name: string | undefined;
  for (const term of terms) {
    if (term === "") continue;
    const parsed = splitSelectorTerm(term);
    if (parsed === undefined) return undefined;
    const value = unescapeSelectorValue(parsed.value);
    if (value === undefined) return undefined;
    if (name === undefined && parsed.op !== "!=" && parsed.field === "metadata.name") name = value;
  }
  return name;
}

/** Splits at the first operator; at one position "!=" beats "==" beats "=". */
function splitSelectorTerm(term: string): { field: string; op: string; value: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ["!=", "==", "="]) {
      if (term.startsWith(op, i))
        return { field: term.slice(0, i), op, value: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** Splits on commas not escaped by a backslash; the backslashes stay in the terms. */
function splitSelectorTerms(selector: string): string[] {
  if (selector === "") return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < selector.length; i++) {
    if (escaped) escaped = false;
    else if (selector[i] === "\\") escaped = true;
    else if (selector[i] === ",") {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** Only \\, \, and \= are escapes, and a bare "," or "=" in a value is an error. */
function unescapeSelectorValue(raw: string): string | undefined {
  return /^(?:[^\\,=]|\\[\\,=])*$/.test(raw) ? raw.replace(/\\(.)/g, "$1") : undefined;
}

/** apimachinery path.IsValidPathSegmentName. */
function isValidPathSegmentName(name: string): boolean {
  return name !== "." && name !== ".." && !name.includes("/") && !name.includes("%");
}

function refusal(rawUrl: string, why: string): PortcullisError {
  return new PortcullisError(
    "ambiguous_path",
    `portcullis: refused ambiguous request path ${quote(rawUrl)}: ${why}`,
  );
}

/** JSON quoting shows control characters as escapes; long targets are cut so logs stay readable. */
function quote(rawUrl: string): string {
  return JSON.stringify(rawUrl.length > 200 ? `${rawUrl.slice(0, 200)}…` : rawUrl);
}
