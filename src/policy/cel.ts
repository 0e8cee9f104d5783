/**
 * Rule conditions in CEL, with ValidatingAdmissionPolicy's variables where the
 * two overlap: `object` (null for DELETE), `oldObject` (null when absent, as
 * for CREATE), `request` (admission.k8s.io AdmissionRequest: operation, name,
 * namespace, resource, subResource, userInfo, dryRun), `namespaceObject`
 * (null for cluster-scoped requests or when the labels are unknown), plus
 * Portcullis's `identity` {subject, issuer, kind, username, groups} and
 * `request.verb` (the Kubernetes verb, since reads have no admission operation)
 * and `request.exec` ({command, container, stdin, tty, typed, line, uncertain}
 * for pods/exec and pods/attach, null otherwise; `typed` is true when a line
 * typed into the session is judged, `line` its text, `uncertain` when history
 * recall or completion may make the shell run something else), and
 * `request.portForward` ({ports, connection} for pods/portforward, null
 * otherwise; `ports` are those the call names, or the one port of a
 * connection being judged when `connection` is true).
 *
 * Conditions are parsed and type-checked once, at load. Optional chaining
 * (`object.?spec.?replicas.orValue(1)`), `has()`, `exists`, `all`, `exists_one`,
 * `map`, `filter` and `cel.bind` are available (@marcbachmann/cel-js).
 */
import { Environment } from "@marcbachmann/cel-js";
import type { PolicyInput } from "./types.ts";

export interface CelProgram {
  source: string;
  /** Which of the expensive variables the expression names. */
  uses: { object: boolean; oldObject: boolean };
  /** True or false; throws CelRuntimeError when the expression cannot be evaluated. */
  run(variables: CelVariables): boolean;
}

export interface CelVariables {
  object: unknown;
  oldObject: unknown;
  request: Record<string, unknown>;
  identity: Record<string, unknown>;
  namespaceObject: unknown;
}

export class CelCompileError extends Error {
  override readonly name = "CelCompileError";
}

export class CelRuntimeError extends Error {
  override readonly name = "CelRuntimeError";
}

const environment = new Environment({
  enableOptionalTypes: true,
  homogeneousAggregateLiterals: false,
})
  .registerVariable("object", "dyn")
  .registerVariable("oldObject", "dyn")
  .registerVariable("request", "map")
  .registerVariable("identity", "map")
  .registerVariable("namespaceObject", "dyn");

export function compileCondition(source: string): CelProgram {
  const checked = environment.check(source);
  if (!checked.valid) throw new CelCompileError(firstLine(checked.error));
  if (checked.type !== "bool" && checked.type !== "dyn") {
    throw new CelCompileError(`the condition is of type ${checked.type}, not bool`);
  }
  const program = environment.parse(source);
  const names = new Set<string>();
  collectIdentifiers(program.ast, names);
  return {
    source,
    uses: { object: names.has("object"), oldObject: names.has("oldObject") },
    run(variables) {
      let result: unknown;
      try {
        result = program(variables as unknown as Record<string, unknown>);
      } catch (err) {
        throw new CelRuntimeError(firstLine(err));
      }
      if (typeof result !== "boolean") {
        throw new CelRuntimeError(`the condition gave ${typeof result}, not a bool`);
      }
      return result;
    },
  };
}

/** Identifiers anywhere in the AST (a macro variable of the same name over-reports, safely). */
function collectIdentifiers(node: unknown, names: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectIdentifiers(item, names);
    return;
  }
  if (node === null || typeof node !== "object" || !("op" in node)) return;
  const { op, args } = node as { op: string; args: unknown };
  if (op === "id" && typeof args === "string") names.add(args);
  else collectIdentifiers(args, names);
}

function firstLine(err: unknown): string {
  if (err === undefined) return "invalid expression";
  const summary = (err as { summary?: unknown }).summary;
  const text = typeof summary === "string" ? summary : String((err as Error).message ?? err);
  return text.split("\n")[0] ?? text;
}

const CONNECT_SUBRESOURCES = new Set(["exec", "attach", "portforward", "proxy"]);

/** The admission operation the apiserver would report; "" for reads, which admission never sees. */
export function admissionOperation(verb: string, subresource: string): string {
  if (verb === "proxy" || CONNECT_SUBRESOURCES.has(subresource)) return "CONNECT";
  switch (verb) {
    case "create":
      return "CREATE";
    case "update":
    case "patch":
      return "UPDATE";
    case "delete":
    case "deletecollection":
      return "DELETE";
    default:
      return "";
  }
}

/**
 * The variables for one request, built on first use and shared by every
 * condition; `object` and `oldObject` are converted only once a condition names them.
 */
export function lazyVariables(input: PolicyInput): (uses: CelProgram["uses"]) => CelVariables {
  let variables: CelVariables | undefined;
  let objectReady = false;
  let oldObjectReady = false;
  return function variablesFor(uses) {
    variables ??= celVariables(input);
    if (uses.object && !objectReady) {
      variables.object = toCel(input.object ?? null);
      objectReady = true;
    }
    if (uses.oldObject && !oldObjectReady) {
      variables.oldObject = toCel(input.oldObject ?? null);
      oldObjectReady = true;
    }
    return variables;
  };
}

function celVariables(input: PolicyInput): CelVariables {
  const { requestInfo: info, identity } = input;
  const labels = input.namespaceLabels;
  return {
    object: null,
    oldObject: null,
    request: {
      operation: admissionOperation(info.verb, info.subresource),
      verb: info.verb,
      name: info.name,
      namespace: info.namespace,
      resource: { group: info.apiGroup, version: info.apiVersion, resource: info.resource },
      subResource: info.subresource,
      userInfo: {
        username: identity.username,
        uid: identity.uid ?? "",
        groups: [...identity.groups],
        extra: { ...identity.extra },
      },
      dryRun: input.dryRun ?? false,
      exec: input.exec
        ? {
            command: [...input.exec.command],
            container: input.exec.container,
            stdin: input.exec.stdin,
            tty: input.exec.tty,
            typed: input.exec.typed !== undefined,
            line: input.exec.typed?.line ?? "",
            uncertain: input.exec.typed?.uncertain ?? false,
          }
        : null,
      portForward: input.portForward
        ? { ports: [...input.portForward.ports], connection: input.portForward.connection ?? false }
        : null,
    },
    identity: {
      subject: identity.subject,
      issuer: identity.issuer,
      kind: identity.kind,
      username: identity.username,
      groups: [...identity.groups],
    },
    namespaceObject:
      info.namespace !== "" && labels !== undefined
        ? {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: info.namespace, labels: { ...labels } },
          }
        : null,
  };
}

/** JSON as CEL sees Kubernetes objects: whole numbers are `int`, so `replicas + 1` works. */
export function toCel(value: unknown): unknown {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = toCel(item);
    return out;
  }
  return value;
}
