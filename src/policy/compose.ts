/**
 * How the baseline and the operators' policy files combine.
 *
 * Each layer (the baseline first, then each user file in the order given)
 * keeps its own first-match order and its own default, and answers on its own.
 * The answers then combine and the strictest wins: deny over approve over allow.
 * Every layer must agree to let a call through, as every Kubernetes authorizer
 * and admission plugin must. The result:
 *  - a user rule can never loosen a baseline rule, by accident or otherwise:
 *    a user `allow` for `delete namespaces` still meets the baseline's deny;
 *  - a user rule can tighten: a user `deny` where the baseline says `approve`
 *    is a deny, and a user `defaultAction: deny` holds even where the baseline
 *    allows (the baseline's secrets rule allows reads *masked*; it grants nothing);
 *  - a user file's own order is untouched, so "allow X, then deny everything" works;
 *  - on a tie of refusals the earlier layer's rule id is reported (baseline ids
 *    for examiners); on a tie of allows, the later layer's matching rule (what
 *    granted the call); the highest audit level and the first masking profile
 *    named are kept.
 * The one deliberate loosening is an agent allow-list naming pods/exec (or
 * attach, portforward) exactly: the baseline's exec rule says `unlessAllowListed`.
 * Dropping a baseline rule altogether must be spelt out: `withoutRules`.
 */
import { baselinePolicy } from "./baseline.ts";
import type { CompiledPolicy } from "./types.ts";

export function composePolicies(
  baseline: CompiledPolicy,
  ...user: CompiledPolicy[]
): CompiledPolicy {
  const layers = [baseline, ...user].flatMap((p) => p.layers);
  const ruleOwners = new Map<string, string>();
  const names = new Set<string>();
  for (const layer of layers) {
    if (names.has(layer.name)) {
      throw new Error(`two policies are named ${layer.name} (${layer.file}); names must differ`);
    }
    names.add(layer.name);
    for (const rule of layer.rules) {
      const owner = ruleOwners.get(rule.id);
      if (owner !== undefined) {
        throw new Error(`rule id ${rule.id} is used by both ${owner} and ${layer.file}`);
      }
      ruleOwners.set(rule.id, layer.file);
    }
  }
  return { layers };
}

/** The policy without the named rules; naming a rule that does not exist is an error. */
export function withoutRules(policy: CompiledPolicy, ids: readonly string[]): CompiledPolicy {
  const wanted = new Set(ids);
  const layers = policy.layers.map((layer) => ({
    ...layer,
    rules: layer.rules.filter((rule) => !wanted.delete(rule.id)),
  }));
  if (wanted.size > 0) throw new Error(`no such rule to disable: ${[...wanted].join(", ")}`);
  return { layers };
}

/** The baseline (unless turned off) followed by the user's policies, in order. */
export function composeWithBaseline(
  withBaseline: boolean,
  user: readonly CompiledPolicy[],
): CompiledPolicy {
  if (withBaseline) return composePolicies(baselinePolicy(), ...user);
  const [first, ...rest] = user;
  if (first === undefined) {
    throw new Error("no policy: the baseline is off and no policy files are given");
  }
  return composePolicies(first, ...rest);
}
