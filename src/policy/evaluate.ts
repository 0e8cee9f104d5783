/**
 * The decision for one call. Order:
 *  1. agent allow-lists (agents.ts): a listed agent outside its list is denied;
 *  2. each layer's rules in order, first match wins, else that layer's default;
 *  3. the layers' answers combine, strictest first (compose.ts explains why).
 * A condition that cannot be evaluated refuses the call (fail closed).
 */
import { auditLevels } from "../audit/record.ts";
import { agentFor, checkAgent } from "./agents.ts";
import { admissionOperation, CelRuntimeError, type CelVariables, lazyVariables } from "./cel.ts";
import { matchRule, type RequestFacts, requestFacts } from "./match.ts";
import type {
  Action,
  CompiledPolicy,
  CompiledRule,
  Decision,
  PolicyInput,
  PolicyLayer,
  TraceEntry,
} from "./types.ts";

const strictness: Record<Action, number> = { allow: 0, approve: 1, deny: 2 };

export function evaluate(policy: CompiledPolicy, input: PolicyInput): Decision {
  const trace: TraceEntry[] = [];
  const facts = requestFacts(input, false);
  for (const layer of policy.layers) {
    const agent = agentFor(layer.agents, input.identity);
    if (agent === undefined) continue;
    const verdict = checkAgent(agent, facts);
    const ruleId = `agents/${agent.name}`;
    trace.push({ ruleId, outcome: verdict.allowed ? "skipped" : "matched", why: verdict.why });
    if (!verdict.allowed) return { action: "deny", ruleId, message: verdict.why, trace };
    if (verdict.named) facts.allowListNamed = true;
  }

  const variablesFor = lazyVariables(input);
  if (facts.resourceKey === "pods/portforward")
    facts.portNamed = portNamed(policy, facts, variablesFor);
  let decision: Answer | undefined;
  for (const layer of policy.layers) {
    const answer = evaluateLayer(layer, facts, variablesFor, trace);
    decision = decision === undefined ? answer : combine(decision, answer);
    if (answer.decision.action === "deny") break;
  }
  if (decision === undefined) {
    return { action: "deny", ruleId: "portcullis:no-policy", message: "no policy loaded", trace };
  }
  return decision.decision;
}

/**
 * Whether a rule that lets the call through (allow or approve) and names
 * ports covers this port-forward: its pods, every port, its condition. Only
 * then does the baseline's `unlessPortNamed` rule step aside. A condition
 * that cannot be evaluated names nothing (fail closed).
 */
function portNamed(
  policy: CompiledPolicy,
  facts: RequestFacts,
  variablesFor: (uses: { object: boolean; oldObject: boolean }) => CelVariables,
): boolean {
  for (const layer of policy.layers) {
    for (const rule of layer.rules) {
      if (!rule.ports || rule.action === "deny" || matchRule(rule, facts) !== undefined) continue;
      if (rule.condition === undefined) return true;
      try {
        if (rule.condition.run(variablesFor(rule.condition.uses))) return true;
      } catch (err) {
        if (!(err instanceof CelRuntimeError)) throw err;
      }
    }
  }
  return false;
}

/** A layer's answer; `byDefault` when no rule of the layer matched. */
interface Answer {
  decision: Decision;
  byDefault: boolean;
}

function evaluateLayer(
  layer: PolicyLayer,
  facts: RequestFacts,
  variablesFor: (uses: { object: boolean; oldObject: boolean }) => CelVariables,
  trace: TraceEntry[],
): Answer {
  for (const rule of layer.rules) {
    const why = matchRule(rule, facts);
    if (why !== undefined) {
      trace.push({ ruleId: rule.id, outcome: "skipped", why });
      continue;
    }
    if (rule.condition !== undefined) {
      let holds: boolean;
      try {
        holds = rule.condition.run(variablesFor(rule.condition.uses));
      } catch (err) {
        if (!(err instanceof CelRuntimeError)) throw err;
        const why = `${err.message}${missingHint(rule, facts)}`;
        const message = `the condition of rule ${rule.id} failed, so the call is refused: ${why}`;
        trace.push({ ruleId: rule.id, outcome: "matched", why: `condition failed: ${why}` });
        return { decision: { action: "deny", ruleId: rule.id, message, trace }, byDefault: false };
      }
      if (!holds) {
        trace.push({ ruleId: rule.id, outcome: "skipped", why: "condition is false" });
        continue;
      }
    }
    trace.push({ ruleId: rule.id, outcome: "matched", why: matchedWhy(rule) });
    return { decision: ruleDecision(rule, trace), byDefault: false };
  }
  const ruleId = `${layer.name}:default`;
  trace.push({ ruleId, outcome: "matched", why: `no rule of ${layer.name} matched` });
  const decision: Decision = {
    action: layer.defaultAction,
    ruleId,
    message: layer.defaultMessage,
    trace,
  };
  return { decision, byDefault: true };
}

/** Names the likely cause when a condition read an object that was not supplied. */
function missingHint(rule: CompiledRule, facts: RequestFacts): string {
  const uses = rule.condition?.uses;
  const { object, oldObject } = facts.input;
  if (uses?.object && object === undefined) return " (object is null: none was supplied)";
  if (uses?.oldObject && oldObject === undefined) return " (oldObject is null: none was supplied)";
  return "";
}

function matchedWhy(rule: CompiledRule): string {
  return rule.condition === undefined ? "all match fields fit" : "match fields fit, condition true";
}

function ruleDecision(rule: CompiledRule, trace: TraceEntry[]): Decision {
  const decision: Decision = { action: rule.action, ruleId: rule.id, message: rule.message, trace };
  if (rule.auditLevel !== undefined) decision.auditLevel = rule.auditLevel;
  if (rule.maskingProfile !== undefined) decision.maskingProfile = rule.maskingProfile;
  if (rule.approval !== undefined) decision.approval = rule.approval;
  if (rule.unrecordedStreams) decision.unrecordedStreams = true;
  return decision;
}

/**
 * The stricter answer wins (deny > approve > allow). On a tie a rule that
 * matched is named over a layer's default; between two matching rules, a
 * refusal names the earlier layer's (baseline ids for examiners) and an allow
 * the later layer's, since an earlier layer's allow (the baseline's masking
 * rules) grants nothing and the operator's rule is what let the call through.
 * Protections are kept from both: the highest audit level, the first masking
 * profile named.
 */
function combine(first: Answer, second: Answer): Answer {
  const a = first.decision;
  const b = second.decision;
  const stricter = strictness[b.action] - strictness[a.action];
  const laterNamed =
    stricter === 0 && !second.byDefault && (first.byDefault || b.action === "allow");
  const winner = stricter > 0 || laterNamed ? second : first;
  const combined: Decision = { ...winner.decision };
  const level = higherLevel(a.auditLevel, b.auditLevel);
  if (level !== undefined) combined.auditLevel = level;
  const profile = a.maskingProfile ?? b.maskingProfile;
  if (profile !== undefined) combined.maskingProfile = profile;
  return { decision: combined, byDefault: winner.byDefault };
}

function higherLevel<T extends (typeof auditLevels)[number]>(a?: T, b?: T): T | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return auditLevels.indexOf(a) >= auditLevels.indexOf(b) ? a : b;
}

/**
 * Whether any rule that could apply to this request (every match field but the
 * condition fits; unknown namespace labels count as fitting) has a condition
 * naming `object` or `oldObject` — so the gateway fetches or dry-runs only when
 * needed. `object` exists for CREATE and UPDATE, `oldObject` for UPDATE and a
 * single DELETE (ValidatingAdmissionPolicy's semantics).
 */
export function needsObject(
  policy: CompiledPolicy,
  input: PolicyInput,
): { object: boolean; oldObject: boolean } {
  const none = { object: false, oldObject: false };
  const { verb, subresource } = input.requestInfo;
  const operation = admissionOperation(verb, subresource);
  const objectExists = operation === "CREATE" || operation === "UPDATE";
  const oldObjectExists = operation === "UPDATE" || (operation === "DELETE" && verb === "delete");
  if (!objectExists && !oldObjectExists) return none;

  const facts = requestFacts(input, false);
  for (const layer of policy.layers) {
    const agent = agentFor(layer.agents, input.identity);
    if (agent === undefined) continue;
    const verdict = checkAgent(agent, facts);
    if (!verdict.allowed) return none;
    if (verdict.named) facts.allowListNamed = true;
  }
  const needs = { ...none };
  for (const layer of policy.layers) {
    for (const rule of layer.rules) {
      if (matchRule(rule, facts, true) !== undefined) continue;
      if (rule.condition === undefined) break;
      needs.object ||= objectExists && rule.condition.uses.object;
      needs.oldObject ||= oldObjectExists && rule.condition.uses.oldObject;
    }
  }
  return needs;
}
