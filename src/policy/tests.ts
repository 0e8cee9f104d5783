/** The `tests:` written in a policy file, run against a compiled policy. */
import { evaluate } from "./evaluate.ts";
import { sampleInput } from "./sample.ts";
import type { PolicyTestSpec } from "./schema.ts";
import type { CompiledPolicy, Decision } from "./types.ts";

export interface PolicyTestResult {
  name: string;
  passed: boolean;
  /** What went wrong, when it did. */
  problem?: string;
  decision?: Decision;
}

export function runPolicyTests(
  policy: CompiledPolicy,
  tests: readonly PolicyTestSpec[],
): PolicyTestResult[] {
  return tests.map((test) => {
    let decision: Decision;
    try {
      decision = evaluate(policy, sampleInput(test.request));
    } catch (err) {
      return { name: test.name, passed: false, problem: (err as Error).message };
    }
    const problems: string[] = [];
    if (decision.action !== test.expect) {
      problems.push(`expected ${test.expect}, got ${decision.action}`);
    }
    if (test.rule !== undefined && decision.ruleId !== test.rule) {
      problems.push(`expected rule ${test.rule}, got ${decision.ruleId}`);
    }
    const result: PolicyTestResult = { name: test.name, passed: problems.length === 0, decision };
    if (problems.length > 0) result.problem = `${problems.join("; ")} (${decision.message})`;
    return result;
  });
}

/** Every layer's own tests, each run against the whole composed policy. */
export function runAllPolicyTests(
  policy: CompiledPolicy,
): Array<PolicyTestResult & { file: string }> {
  return policy.layers.flatMap((layer) =>
    runPolicyTests(policy, layer.tests).map((r) => ({ ...r, file: layer.file })),
  );
}
