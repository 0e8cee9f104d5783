/**
 * Policy files: parsed, validated and compiled (patterns, selectors, CEL) once,
 * so evaluation does no parsing. Every problem names the file, line and column,
 * and the rule id or field; all problems are reported together.
 */
import { readFileSync } from "node:fs";
import { compileAgent } from "./agents.ts";
import { CelCompileError, compileCondition } from "./cel.ts";
import { compilePatterns } from "./glob.ts";
import { skipReasons } from "./match.ts";
import { approvalSchema, type PolicyDocument, policySchema, type RuleSpec } from "./schema.ts";
import type { CompiledPolicy, CompiledRule, PolicyLayer, PortSet } from "./types.ts";
import { parseYamlWithSchema, YamlDocumentError } from "./yaml.ts";

/** A policy that cannot be used; `problems` has one line per problem. */
export class PolicyError extends YamlDocumentError {
  constructor(file: string, problems: string[]) {
    super("policy", file, problems);
    this.name = "PolicyError";
  }
}

type Where = (path: ReadonlyArray<PropertyKey>) => string;

export function loadPolicyFile(file: string): CompiledPolicy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new PolicyError(file, [`${file}: cannot read: ${(err as Error).message}`]);
  }
  return parsePolicy(text, file);
}

/** Parses, validates and compiles policy text; `file` is used in messages only. */
export function parsePolicy(text: string, file: string): CompiledPolicy {
  let parsed: ReturnType<typeof parseYamlWithSchema<typeof policySchema>>;
  try {
    parsed = parseYamlWithSchema(text, file, policySchema, "policy");
  } catch (err) {
    if (err instanceof YamlDocumentError) throw new PolicyError(file, err.problems);
    throw err;
  }
  return compilePolicy(parsed.value, file, parsed.where);
}

export function compilePolicy(
  doc: PolicyDocument,
  file: string,
  where: Where = () => file,
): CompiledPolicy {
  const problems: string[] = [];
  const { spec } = doc;
  const seen = new Map<string, number>();
  const rules: CompiledRule[] = [];
  spec.rules.forEach((rule, i) => {
    const at = ["spec", "rules", i];
    const first = seen.get(rule.id);
    if (first !== undefined) {
      problems.push(
        `${where([...at, "id"])}: rule ${rule.id}: duplicate id (first used by spec.rules[${first}])`,
      );
    } else seen.set(rule.id, i);
    try {
      rules.push(compileRule(rule));
    } catch (err) {
      if (!(err instanceof CelCompileError)) throw err;
      problems.push(
        `${where([...at, "condition"])}: rule ${rule.id}: condition does not compile: ${err.message}`,
      );
    }
  });
  const agentNames = new Set<string>();
  spec.agents.forEach((agent, i) => {
    if (agentNames.has(agent.name)) {
      problems.push(`${where(["spec", "agents", i, "name"])}: agent ${agent.name} is listed twice`);
    }
    agentNames.add(agent.name);
  });
  if (problems.length > 0) throw new PolicyError(file, problems);
  const layer: PolicyLayer = {
    name: doc.metadata.name,
    file,
    defaultAction: spec.defaultAction,
    defaultMessage:
      spec.defaultMessage ?? `no rule of policy ${doc.metadata.name} matched this request`,
    agents: spec.agents.map(compileAgent),
    rules,
    tests: spec.tests,
  };
  return { layers: [layer] };
}

function compilePorts(ports: Array<number | [number, number]>): PortSet {
  const ranges = ports.map((p) =>
    typeof p === "number" ? ([p, p] as const) : ([p[0], p[1]] as const),
  );
  return {
    ranges,
    has: (port) => ranges.some(([lo, hi]) => port >= lo && port <= hi),
    text: ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(", "),
  };
}

function compileRule(rule: RuleSpec): CompiledRule {
  const m = rule.match;
  const set = (p: string[] | undefined) => (p === undefined ? undefined : compilePatterns(p));
  const compiled: Omit<CompiledRule, "skip"> = {
    id: rule.id,
    reason: rule.reason,
    message: rule.message ?? rule.reason,
    action: rule.action,
    auditLevel: rule.audit?.level,
    maskingProfile: rule.masking?.profile,
    approval: rule.action === "approve" ? (rule.approval ?? approvalSchema.parse({})) : undefined,
    unrecordedStreams: rule.streams?.unrecorded === "allow" ? true : undefined,
    kinds: m.identity?.kinds && new Set(m.identity.kinds),
    subjects: set(m.identity?.subjects),
    usernames: set(m.identity?.usernames),
    groups: set(m.identity?.groups),
    verbs: set(m.verbs),
    apiGroups: set(m.apiGroups),
    resources: set(m.resources),
    namespaces: set(m.namespaces),
    namespaceSelector: m.namespaceSelector,
    names: set(m.names),
    nonResourceURLs: set(m.nonResourceURLs),
    unlessAllowListed: m.unlessAllowListed ?? false,
    ports: m.ports === undefined ? undefined : compilePorts(m.ports),
    unlessPortNamed: m.unlessPortNamed ?? false,
    needsResource: [m.apiGroups, m.resources, m.namespaces, m.names].some((f) => f !== undefined),
    condition: rule.condition === undefined ? undefined : compileCondition(rule.condition),
  };
  return { ...compiled, skip: skipReasons(compiled) };
}
