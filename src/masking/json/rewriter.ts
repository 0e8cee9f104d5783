/**
 * The streaming JSON rewriter: reads a Kubernetes JSON response chunk by
 * chunk, masks sensitive string values, and writes everything else through
 * byte for byte, in order. Memory is bounded by the largest single token
 * (one string value), never by the size of the body: a 200 MB LIST streams.
 *
 * It knows the shapes the API server sends: single objects, Lists (items
 * take their kind from the list's), `Table` rows (cells, and `object` when
 * the client asked for it), watch event streams (one JSON value after
 * another), `PartialObjectMetadata`. Inside an object it knows:
 *
 * - Secret `data` (base64: decoded, scanned, re-encoded, or masked whole
 *   per profile) and `stringData`;
 * - ConfigMap `data` (text) and `binaryData` (base64, scanned when UTF-8);
 * - container `env` entries (the value is scanned with the variable's name
 *   as context, and field rules may mask it by name);
 * - annotations, and `kubectl.kubernetes.io/last-applied-configuration`,
 *   which is a whole object inside a string: rewritten recursively;
 * - `managedFields`, which only names fields: passed through unscanned;
 * - fields whose meaning is known (`resourceVersion`, `uid`, timestamps,
 *   image digests, names) are never taken for card numbers.
 *
 * Written by hand rather than on a streaming JSON library: the available
 * ones build a value (or an event object) per token, and at hundreds of MB/s
 * that allocation is the cost. This one tokenizes a decoded chunk with
 * native `indexOf` for string ends, slices strings without copying, and
 * re-encodes only what the chunk produced.
 */
import { Buffer, isUtf8 } from "node:buffer";
import { StringDecoder } from "node:string_decoder";
import type { MaskStyle, ScanContext } from "../detector.ts";
import type { MaskingEngine } from "../engine.ts";
import type { FieldRule } from "../field-rules.ts";
import { applyMaskStyle } from "../mask-style.ts";

export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

export interface RewriterOptions {
  engine: MaskingEngine;
  /** Secret `data` values: decoded and scanned, or masked whole whatever they hold. */
  secretData: "scan" | "mask";
  fieldRules?: readonly FieldRule[];
  /** Kind of a top-level object that does not name its own (from the request's resource). */
  kindHint?: string;
  /** Key for `hash`-style masks. */
  hashKey?: Uint8Array;
  /** Called once per masked value: which detector, at which field path. */
  onMasked?: (detector: string, path: string) => void;
  /** Largest single token (string, number) accepted; larger fails the stream. */
  maxTokenBytes?: number;
  /** Deepest nesting accepted. */
  maxDepth?: number;
}

export class RewriteError extends Error {
  override name = "RewriteError";
}

// Roles of a container: what its direct values are.
const GENERIC = 0;
const META = 1;
const SECRET_DATA = 2;
const TEXT_MAP = 3; // ConfigMap data, Secret stringData, labels
const BINARY_MAP = 4; // ConfigMap binaryData
const ANNOTATIONS = 5;
const MANAGED = 6; // managedFields: names fields only
const ENV_ARRAY = 7;
const ENV_ENTRY = 8;

// Parser states.
const VALUE = 0; // expecting a value
const VALUE_OR_CLOSE = 1; // just after `[`
const KEY_OR_CLOSE = 2; // just after `{`
const KEY = 3; // after `,` in an object
const COLON = 4;
const AFTER = 5; // after a value: `,`, a close, or (top level) the next value
/**
 * Inside `managedFields`: it only names fields, so it is passed through
 * without tokenizing, counting brackets outside strings until it closes.
 * The hot path of LISTs of applied objects, where it is most of each item.
 */
const SKIP = 6;

/** Keys whose values have a known, non-sensitive meaning (outside user-keyed maps). */
const KNOWN_KEYS = new Set([
  "apiVersion",
  "kind",
  "resourceVersion",
  "uid",
  "selfLink",
  "continue",
  "generation",
  "observedGeneration",
  "image",
  "imageID",
  "containerID",
  "podIP",
  "hostIP",
  "clusterIP",
  "startedAt",
  "finishedAt",
  "type",
  "fieldsType",
  "manager",
  "operation",
]);
/** Under `metadata`, these identify the object: masking them would break every client. */
const METADATA_KEYS = new Set(["name", "namespace", "generateName"]);

function isKnownKey(key: string): boolean {
  return KNOWN_KEYS.has(key) || key.endsWith("Timestamp") || key.endsWith("Time");
}

interface RuleState {
  rule: FieldRule;
  /** Path segments consumed so far. */
  at: number;
}

interface Frame {
  array: boolean;
  /** Key under which this container sits in its parent (an array's elements share it). */
  key: string;
  root: Frame;
  /** Root frames: the object's own `kind`, once read. */
  kind: string | undefined;
  /** Root frames: the kind implied by where the object sits. */
  hint: string | undefined;
  role: number;
  /** Object frames: the key whose value is being read. */
  current: string;
  /** Env entries: the variable's name, once read. */
  envName: string | undefined;
  /** Path rules still matching at this depth. */
  rules: RuleState[];
  /** For `Table` rows: this object is a row. */
  row: boolean;
}

const isWs = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/** `SecretList` → `Secret`; `List` and non-lists → undefined. */
function itemKind(listKind: string | undefined): string | undefined {
  if (listKind === undefined || listKind === "List" || !listKind.endsWith("List")) return undefined;
  return listKind.slice(0, -4);
}

export class JsonRewriter {
  readonly #o: RewriterOptions;
  readonly #maxToken: number;
  readonly #maxDepth: number;
  readonly #decoder = new StringDecoder("utf8");
  readonly #stack: Frame[] = [];
  readonly #context: ScanContext = {};
  #state = VALUE;
  /** Unconsumed text: the start of a token that has not ended yet. */
  #carry = "";
  /** An unterminated string: its pieces so far (joined only when it ends). */
  #stringParts: string[] | undefined;
  #stringLength = 0;
  /** The pending string's last piece ended inside an escape (odd backslashes). */
  #stringEscaped = false;
  #stringIsKey = false;
  /** Open brackets in the container being skipped (SKIP). */
  #skipDepth = 0;
  #failed: RewriteError | undefined;
  /** Where the value being scanned sits, for the finding callback (made once, not per value). */
  #findingFrame: Frame | undefined;
  #findingKey: string | undefined;
  readonly #onFinding: ((detector: string) => void) | undefined;

  constructor(options: RewriterOptions) {
    this.#o = options;
    const onMasked = options.onMasked;
    this.#onFinding =
      onMasked === undefined
        ? undefined
        : (detector) => onMasked(detector, this.#path(this.#findingFrame, this.#findingKey));
    this.#maxToken = options.maxTokenBytes ?? 64 << 20;
    this.#maxDepth = options.maxDepth ?? 10_000;
  }

  /** Rewrites one chunk; returns what can be sent now (possibly empty). */
  push(chunk: Buffer): Buffer {
    if (this.#failed) throw this.#failed;
    try {
      return Buffer.from(this.#process(this.#decoder.write(chunk), false));
    } catch (err) {
      this.#failed = err instanceof RewriteError ? err : new RewriteError(String(err));
      throw this.#failed;
    }
  }

  /** Ends the input: returns the rest, or throws when the JSON is incomplete. */
  end(): Buffer {
    if (this.#failed) throw this.#failed;
    try {
      const out = this.#process(this.#decoder.end(), true);
      if (this.#stringParts !== undefined) throw new RewriteError("unterminated string");
      if (this.#stack.length > 0) throw new RewriteError("unexpected end of JSON");
      if (this.#state !== VALUE && this.#state !== AFTER) {
        throw new RewriteError("unexpected end of JSON");
      }
      return Buffer.from(out);
    } catch (err) {
      this.#failed = err instanceof RewriteError ? err : new RewriteError(String(err));
      throw this.#failed;
    }
  }

  /** Rewrites a whole document held in memory (annotations, tests). */
  static rewrite(text: string, options: RewriterOptions): string {
    const rewriter = new JsonRewriter(options);
    return (
      rewriter.#process(text, false) + rewriter.#process("", true) + rewriter.#assertComplete()
    );
  }

  #assertComplete(): string {
    if (this.#stringParts !== undefined || this.#stack.length > 0) {
      throw new RewriteError("unexpected end of JSON");
    }
    if (this.#state !== VALUE && this.#state !== AFTER) {
      throw new RewriteError("unexpected end of JSON");
    }
    return "";
  }

  #process(input: string, final: boolean): string {
    let out = "";
    let text: string;
    let pos = 0;
    if (this.#stringParts !== undefined) {
      // Inside a long string: look for its end in the new text only.
      const end = this.#findStringEnd(input, 0, this.#stringEscaped);
      if (end === -1) {
        this.#appendStringPart(input);
        return "";
      }
      const parts = this.#stringParts;
      parts.push(input.slice(0, end));
      this.#stringParts = undefined;
      const raw = parts.join("");
      this.#stringLength = 0;
      // The opening quote was held back with the rest of the string.
      const replaced = this.#completeString(raw, this.#stringIsKey);
      out += replaced === "" ? `"${raw}"` : replaced;
      text = input;
      pos = end + 1;
    } else {
      text = this.#carry + input;
      this.#carry = "";
    }
    const n = text.length;
    let emitFrom = pos;
    const stack = this.#stack;
    let state = this.#state;
    while (pos < n) {
      const c = text.charCodeAt(pos);
      if (isWs(c)) {
        pos++;
        continue;
      }
      switch (state) {
        case SKIP: {
          let depth = this.#skipDepth;
          while (pos < n) {
            const k = text.charCodeAt(pos);
            if (k === 34) {
              const end = this.#findStringEnd(text, pos + 1, false);
              if (end === -1) break;
              pos = end + 1;
            } else if (k === 123 || k === 91) {
              depth++;
              pos++;
            } else if (k === 125 || k === 93) {
              depth--;
              pos++;
              if (depth === 0) break;
            } else {
              pos++;
            }
          }
          this.#skipDepth = depth;
          if (depth === 0) {
            this.#pop();
            state = AFTER;
            continue;
          }
          if (pos < n || !final) {
            // A string cut by the chunk's end: resume from its quote.
            if (n - pos > this.#maxToken) {
              throw new RewriteError(`a string value is larger than ${this.#maxToken} bytes`);
            }
            this.#carry = text.slice(pos);
            this.#state = SKIP;
            return out + text.slice(emitFrom, pos);
          }
          continue;
        }
        case VALUE_OR_CLOSE:
          if (c === 93) {
            this.#pop();
            pos++;
            state = AFTER;
            continue;
          }
          state = VALUE;
          continue;
        case KEY_OR_CLOSE:
        case KEY:
          if (c === 125 && state === KEY_OR_CLOSE) {
            this.#pop();
            pos++;
            state = AFTER;
            continue;
          }
          if (c !== 34) throw this.#unexpected(text, pos, "an object key");
          {
            const end = this.#findStringEnd(text, pos + 1, false);
            if (end === -1) {
              this.#beginLongString(text, pos, true);
              this.#state = COLON;
              return out + text.slice(emitFrom, pos);
            }
            const replaced = this.#completeString(text.slice(pos + 1, end), true);
            if (replaced !== "") {
              out += text.slice(emitFrom, pos) + replaced;
              emitFrom = end + 1;
            }
            pos = end + 1;
            state = COLON;
          }
          continue;
        case COLON:
          if (c !== 58) throw this.#unexpected(text, pos, "`:`");
          pos++;
          state = VALUE;
          continue;
        case AFTER:
          if (stack.length === 0) {
            // A stream of values (watch events): the next one may start.
            state = VALUE;
            continue;
          }
          if (c === 44) {
            pos++;
            state = (stack[stack.length - 1] as Frame).array ? VALUE : KEY;
            continue;
          }
          if (c === 125 || c === 93) {
            const top = stack[stack.length - 1] as Frame;
            if (top.array !== (c === 93)) throw this.#unexpected(text, pos, "a matching close");
            this.#pop();
            pos++;
            continue;
          }
          throw this.#unexpected(text, pos, "`,` or a close");
        default: {
          // VALUE
          if (c === 123 || c === 91) {
            const pushed = this.#push(c === 91);
            pos++;
            if (pushed.role === MANAGED) {
              this.#skipDepth = 1;
              state = SKIP;
            } else {
              state = c === 91 ? VALUE_OR_CLOSE : KEY_OR_CLOSE;
            }
            continue;
          }
          if (c === 34) {
            const end = this.#findStringEnd(text, pos + 1, false);
            if (end === -1) {
              this.#beginLongString(text, pos, false);
              this.#state = AFTER;
              return out + text.slice(emitFrom, pos);
            }
            const replaced = this.#completeString(text.slice(pos + 1, end), false);
            if (replaced !== "") {
              out += text.slice(emitFrom, pos) + replaced;
              emitFrom = end + 1;
            }
            pos = end + 1;
            state = AFTER;
            continue;
          }
          // Number or literal: short tokens; incomplete ones wait for more text.
          let end = pos;
          while (end < n && !isDelimiter(text.charCodeAt(end))) end++;
          if (end === n && !final) {
            if (end - pos > 1024) throw new RewriteError("number or literal too long");
            this.#carry = text.slice(pos);
            this.#state = state;
            return out + text.slice(emitFrom, pos);
          }
          const token = text.slice(pos, end);
          const replaced = this.#scalar(token);
          if (replaced !== undefined) {
            out += text.slice(emitFrom, pos) + replaced;
            emitFrom = end;
          }
          pos = end;
          state = AFTER;
        }
      }
    }
    this.#state = state;
    return out + text.slice(emitFrom, n);
  }

  #unexpected(text: string, pos: number, wanted: string): RewriteError {
    const got = JSON.stringify(text.slice(pos, pos + 12));
    return new RewriteError(`invalid JSON: expected ${wanted}, found ${got}`);
  }

  /** Index of the closing quote from `from`, or -1 when the text ends first. */
  #findStringEnd(text: string, from: number, escapedAtStart: boolean): number {
    let at = from;
    if (escapedAtStart) at++; // the first character is escaped
    for (;;) {
      const q = text.indexOf('"', at);
      if (q === -1) return -1;
      let backslashes = 0;
      let b = q - 1;
      while (b >= at && text.charCodeAt(b) === 92) {
        backslashes++;
        b--;
      }
      if ((backslashes & 1) === 0) return q;
      at = q + 1;
    }
  }

  #beginLongString(text: string, quote: number, isKey: boolean): void {
    this.#stringParts = [];
    this.#stringLength = 0;
    this.#stringEscaped = false;
    this.#stringIsKey = isKey;
    this.#appendStringPart(text.slice(quote + 1));
  }

  #appendStringPart(piece: string): void {
    const parts = this.#stringParts as string[];
    parts.push(piece);
    this.#stringLength += piece.length;
    if (this.#stringLength > this.#maxToken) {
      throw new RewriteError(`a string value is larger than ${this.#maxToken} bytes`);
    }
    // Does the pending text end inside an escape? Count trailing backslashes
    // across pieces (a run may span chunks).
    let backslashes = 0;
    for (let p = parts.length - 1; p >= 0; p--) {
      const s = parts[p] as string;
      let i = s.length - 1;
      while (i >= 0 && s.charCodeAt(i) === 92) {
        backslashes++;
        i--;
      }
      if (i >= 0) break;
    }
    this.#stringEscaped = (backslashes & 1) === 1;
  }

  /**
   * Handles a complete string token (`raw`: between the quotes, still
   * escaped). Returns its replacement JSON, or "" when it stays as it was.
   */
  #completeString(raw: string, isKey: boolean): string {
    const value = raw.indexOf("\\") === -1 ? raw : decodeJsonString(raw);
    if (isKey) {
      (this.#stack[this.#stack.length - 1] as Frame).current = value;
      return "";
    }
    const replacement = this.#stringValue(value);
    return replacement === undefined ? "" : JSON.stringify(replacement);
  }

  /** The masked form of a string value, or undefined to keep it. */
  #stringValue(value: string): string | undefined {
    const top = this.#stack[this.#stack.length - 1];
    if (top === undefined) return this.#scan(value, undefined, undefined);
    const key = top.array ? top.key : top.current;
    switch (top.role) {
      case MANAGED:
        return undefined;
      case SECRET_DATA:
        return this.#secretDataValue(top, key, value);
      case BINARY_MAP:
        return this.#base64Value(top, key, value, false);
      case ANNOTATIONS:
        if (top.array) return this.#scan(value, top, key);
        return this.#annotation(top, key, value);
      case ENV_ENTRY:
        if (key === "name") {
          top.envName = value;
          return undefined;
        }
        if (key === "value") return this.#envValue(top, value);
        return undefined;
      case TEXT_MAP:
        return this.#pathRule(top, key, value) ?? this.#scan(value, top, key);
      case META:
        if (METADATA_KEYS.has(key) || isKnownKey(key)) return undefined;
        return this.#scan(value, top, key);
      default:
        if (!top.array && top.root === top && key === "kind") {
          top.kind = value;
          top.rules = this.#rootRules(top);
          return undefined;
        }
        if (isKnownKey(key)) return undefined;
        return this.#pathRule(top, key, value) ?? this.#scan(value, top, key);
    }
  }

  /** Numbers: a long digit run may be a card or account number (in a custom resource). */
  #scalar(token: string): string | undefined {
    const c = token.charCodeAt(0);
    if (c === 116 || c === 102 || c === 110) {
      if (token !== "true" && token !== "false" && token !== "null") {
        throw new RewriteError(`invalid JSON: unexpected ${JSON.stringify(token.slice(0, 12))}`);
      }
      return undefined;
    }
    if (!NUMBER.test(token)) {
      throw new RewriteError(`invalid JSON: unexpected ${JSON.stringify(token.slice(0, 12))}`);
    }
    if (token.length < 9) return undefined;
    const top = this.#stack[this.#stack.length - 1];
    const key = top === undefined ? undefined : top.array ? top.key : top.current;
    if (key !== undefined && isKnownKey(key)) return undefined;
    const masked = this.#scan(token, top, key);
    // Still a string where a number stood: the value must not survive, and a
    // masked number has no numeric form.
    return masked === undefined ? undefined : JSON.stringify(masked);
  }

  #scan(value: string, frame: Frame | undefined, key: string | undefined): string | undefined {
    return this.#scanAs(value, frame, key, key);
  }

  /** Scans with `contextKey` for the detectors; findings are reported at `pathKey`. */
  #scanAs(
    value: string,
    frame: Frame | undefined,
    contextKey: string | undefined,
    pathKey: string | undefined,
  ): string | undefined {
    if (value.length === 0) return undefined;
    this.#context.key = contextKey;
    this.#findingFrame = frame;
    this.#findingKey = pathKey;
    const masked = this.#o.engine.mask(value, this.#context, this.#onFinding);
    return masked === value ? undefined : masked;
  }

  #wholeMask(id: string, style: MaskStyle, value: string, frame: Frame, key: string): string {
    this.#o.onMasked?.(id, this.#path(frame, key));
    return applyMaskStyle(id, value, style, this.#o.hashKey, () => `[${id}]`);
  }

  #secretDataValue(frame: Frame, key: string, value: string): string | undefined {
    const rule = this.#matchPathRule(frame, key);
    if (rule !== undefined) {
      return toBase64(this.#wholeMask(rule.id, rule.style, fromBase64(value) ?? value, frame, key));
    }
    if (this.#o.secretData === "mask") {
      if (value.length === 0) return undefined;
      return toBase64(
        this.#wholeMask("secret-data", "full", fromBase64(value) ?? value, frame, key),
      );
    }
    return this.#base64Value(frame, key, value, true);
  }

  /**
   * A base64 value: decoded and scanned as UTF-8 text, re-encoded when
   * something was masked. Secret values that are not base64 of UTF-8 text
   * (binary keystores) cannot be scanned and are masked whole; ConfigMap
   * binaryData that is binary passes (there is no text in it to find).
   */
  #base64Value(frame: Frame, key: string, value: string, isSecret: boolean): string | undefined {
    if (value.length === 0) return undefined;
    const bytes = fromBase64Bytes(value);
    if (bytes === undefined || !isUtf8(bytes)) {
      if (!isSecret) return undefined;
      return toBase64(this.#wholeMask("secret-binary", "full", value, frame, key));
    }
    const text = bytes.toString("utf8");
    const masked = this.#scan(text, frame, key);
    return masked === undefined ? undefined : toBase64(masked);
  }

  #annotation(frame: Frame, key: string, value: string): string | undefined {
    for (const rule of this.#o.fieldRules ?? []) {
      if (rule.annotation?.test(key) && this.#kindMatches(rule, frame)) {
        return this.#wholeMask(rule.id, rule.style, value, frame, key);
      }
    }
    if (key === LAST_APPLIED) {
      try {
        const inner = JsonRewriter.rewrite(value, { ...this.#o, kindHint: undefined });
        return inner === value ? undefined : inner;
      } catch {
        // Not JSON after all: scan it as text.
      }
    }
    return this.#scan(value, frame, key);
  }

  #envValue(frame: Frame, value: string): string | undefined {
    const name = frame.envName;
    if (name !== undefined) {
      for (const rule of this.#o.fieldRules ?? []) {
        if (rule.envName?.test(name) && this.#kindMatches(rule, frame)) {
          return this.#wholeMask(rule.id, rule.style, value, frame, "value");
        }
      }
    }
    return this.#scanAs(value, frame, name, "value");
  }

  #kindMatches(rule: FieldRule, frame: Frame): boolean {
    return rule.kind === undefined || rule.kind === (frame.root.kind ?? frame.root.hint);
  }

  #matchPathRule(frame: Frame, key: string): FieldRule | undefined {
    for (const s of frame.rules) {
      const segments = s.rule.segments as Array<(key: string) => boolean>;
      if (frame.array) {
        if (s.at === segments.length) return s.rule;
      } else if (s.at === segments.length - 1 && (segments[s.at] as (k: string) => boolean)(key)) {
        return s.rule;
      }
    }
    return undefined;
  }

  #pathRule(frame: Frame, key: string, value: string): string | undefined {
    if (frame.rules.length === 0) return undefined;
    const rule = this.#matchPathRule(frame, key);
    return rule === undefined ? undefined : this.#wholeMask(rule.id, rule.style, value, frame, key);
  }

  #rootRules(root: Frame): RuleState[] {
    const kind = root.kind ?? root.hint;
    const states: RuleState[] = [];
    for (const rule of this.#o.fieldRules ?? []) {
      if (rule.segments === undefined) continue;
      if (rule.kind !== undefined && rule.kind !== kind) continue;
      states.push({ rule, at: 0 });
    }
    return states;
  }

  #push(array: boolean): Frame {
    const stack = this.#stack;
    if (stack.length >= this.#maxDepth) throw new RewriteError("JSON nested too deeply");
    const parent = stack[stack.length - 1];
    const key = parent === undefined ? "" : parent.array ? parent.key : parent.current;
    const frame: Frame = {
      array,
      key,
      root: undefined as unknown as Frame,
      kind: undefined,
      hint: undefined,
      role: GENERIC,
      current: "",
      envName: undefined,
      rules: [],
      row: false,
    };
    if (parent === undefined) {
      frame.root = frame;
      frame.hint = this.#o.kindHint;
      frame.rules = this.#rootRules(frame);
      stack.push(frame);
      return frame;
    }
    const parentRoot = parent.root;
    if (!array && this.#startsObject(parent, key)) {
      frame.root = frame;
      frame.hint =
        parent.array && key === "items"
          ? itemKind(parentRoot.kind ?? parentRoot.hint)
          : this.#o.kindHint;
      frame.rules = this.#rootRules(frame);
      stack.push(frame);
      return frame;
    }
    frame.root = parentRoot;
    frame.row = !array && parent.array && key === "rows" && parentRoot.kind === "Table";
    frame.role = this.#childRole(parent, key, array);
    frame.rules = advanceRules(parent, key, array);
    stack.push(frame);
    return frame;
  }

  /** Is an object pushed under `key` of `parent` a Kubernetes object in its own right? */
  #startsObject(parent: Frame, key: string): boolean {
    if (parent.array) {
      // List items: `items` directly in a root object.
      if (key !== "items") return false;
      const holder = this.#stack[this.#stack.length - 2];
      return holder !== undefined && holder.root === holder;
    }
    if (key !== "object") return false;
    // A watch event's object (the event is a top-level object) or a Table row's object.
    return (parent.root === parent && this.#stack.length === 1) || parent.row;
  }

  #childRole(parent: Frame, key: string, array: boolean): number {
    if (parent.role === MANAGED) return MANAGED;
    if (parent.role === ENV_ARRAY) return array ? GENERIC : ENV_ENTRY;
    if (key === "env" && array && parent.role === GENERIC) return ENV_ARRAY;
    if (parent.array) return GENERIC;
    if (parent.root === parent) {
      const kind = parent.kind ?? parent.hint;
      if (key === "metadata") return META;
      if (kind === "Secret") {
        if (key === "data") return SECRET_DATA;
        if (key === "stringData") return TEXT_MAP;
      }
      if (kind === "ConfigMap") {
        if (key === "data") return TEXT_MAP;
        if (key === "binaryData") return BINARY_MAP;
      }
      return GENERIC;
    }
    if (parent.role === META) {
      if (key === "annotations") return ANNOTATIONS;
      if (key === "labels") return TEXT_MAP;
      if (key === "managedFields") return MANAGED;
    }
    return GENERIC;
  }

  #pop(): void {
    this.#stack.pop();
  }

  /** `Secret.data.password`, `Pod.spec.containers[].env[DB_PASSWORD]`: where a value sat. */
  #path(frame: Frame | undefined, key: string | undefined): string {
    if (frame === undefined) return key ?? "";
    const parts: string[] = [];
    const stack = this.#stack;
    let start = stack.indexOf(frame.root);
    if (start === -1) start = 0;
    for (let i = start + 1; i < stack.length; i++) {
      const f = stack[i] as Frame;
      const parent = stack[i - 1] as Frame;
      if (parent.array) {
        parts.push(parent.role === ENV_ARRAY && f.envName !== undefined ? `[${f.envName}]` : "[]");
      } else {
        parts.push(parts.length === 0 ? f.key : `.${f.key}`);
      }
    }
    const top = stack[stack.length - 1] as Frame;
    if (top.array) parts.push("[]");
    else if (key !== undefined && top.role !== ENV_ENTRY) {
      parts.push(parts.length === 0 ? key : `.${key}`);
    }
    const kind = frame.root.kind ?? frame.root.hint;
    const path = parts.join("");
    return kind === undefined ? path : path === "" ? kind : `${kind}.${path}`;
  }
}

function advanceRules(parent: Frame, key: string, array: boolean): RuleState[] {
  if (parent.rules.length === 0) return parent.rules;
  if (parent.array) return parent.rules; // arrays are transparent
  const next: RuleState[] = [];
  for (const s of parent.rules) {
    const segments = s.rule.segments as Array<(key: string) => boolean>;
    const limit = array ? segments.length : segments.length - 1;
    if (s.at < limit && (segments[s.at] as (k: string) => boolean)(key)) {
      next.push({ rule: s.rule, at: s.at + 1 });
    }
  }
  return next;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Characters that end a number or literal. */
function isDelimiter(c: number): boolean {
  return (
    c === 44 || c === 93 || c === 125 || c === 58 || c === 34 || isWs(c) || c === 123 || c === 91
  );
}

function decodeJsonString(raw: string): string {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    throw new RewriteError("invalid JSON: bad escape in string");
  }
}

/**
 * Strict base64 (what the API server writes), or undefined. Node's decoder
 * skips characters outside the alphabet, so a decoded length short of what
 * the text's length implies means the text was not base64.
 */
function fromBase64Bytes(value: string): Buffer | undefined {
  if (value.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(value, "base64");
  let padding = 0;
  if (value.charCodeAt(value.length - 1) === 61) padding++;
  if (value.charCodeAt(value.length - 2) === 61) padding++;
  return bytes.length === (value.length / 4) * 3 - padding ? bytes : undefined;
}

function fromBase64(value: string): string | undefined {
  const bytes = fromBase64Bytes(value);
  return bytes !== undefined && isUtf8(bytes) ? bytes.toString("utf8") : undefined;
}

function toBase64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}
