import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { baselineFile, baselinePolicy } from "../policy/baseline.ts";
import { composeWithBaseline } from "../policy/compose.ts";
import { explain } from "../policy/explain.ts";
import { loadPolicyFile } from "../policy/load.ts";
import { sampleInput } from "../policy/sample.ts";
import { runPolicyTests } from "../policy/tests.ts";
import type { CompiledPolicy } from "../policy/types.ts";
import { addSimulateCommand } from "./policy-simulate.ts";

interface CheckOptions {
  baseline: boolean;
  quiet?: boolean;
}

interface ExplainOptions {
  method: string;
  path: string;
  agent?: string;
  human?: string | boolean;
  username?: string;
  group: string[];
  object?: string;
  oldObject?: string;
  namespaceLabels?: string;
  policy: string[];
  baseline: boolean;
  output: "text" | "json";
}

/** `portcullis policy …`: validate, test and explain guardrail policies, offline. */
export function policyCommand(): Command {
  const policy = new Command("policy").description(
    "validate, test and explain guardrail policies (offline: no cluster needed)",
  );
  addCheck(policy);
  addExplain(policy);
  addSimulateCommand(policy);
  return policy;
}

function addCheck(policy: Command): void {
  policy
    .command("check")
    .description(
      "validate policy files and run the tests written in them (against the baseline plus the files, as the gateway would)",
    )
    .argument("<files...>", "policy files (YAML)")
    .option("--no-baseline", "run without the shipped baseline pack")
    .option("-q, --quiet", "print only failures and the summary")
    .addHelpText(
      "after",
      `
Each test in a file's spec.tests gives a request and the expected decision:
  tests:
    - name: agents cannot delete namespaces
      request: { method: DELETE, path: /api/v1/namespaces/prod,
                 identity: { subject: bot, kind: agent } }
      expect: deny
      rule: baseline/no-namespace-delete

Examples:
  $ portcullis policy check policies/team.yaml
  $ portcullis policy check --no-baseline policies/*.yaml

Exit status: 0 when every file is valid and every test passes, 1 otherwise.`,
    )
    .action((files: string[], options: CheckOptions) => {
      const loaded = files.map((file) => ({ file, policy: loadUnlessBaseline(file) }));
      const user = loaded.flatMap((l) => (l.policy === undefined ? [] : [l.policy]));
      const composed = composeWithBaseline(options.baseline || loaded.some((l) => !l.policy), user);
      let passed = 0;
      let failed = 0;
      const tested = new Set(loaded.map((l) => l.policy?.layers[0] ?? baselinePolicy().layers[0]));
      for (const layer of composed.layers) {
        if (!tested.has(layer)) continue;
        for (const result of runPolicyTests(composed, layer.tests)) {
          if (result.passed) passed++;
          else failed++;
          if (result.passed && options.quiet) continue;
          const mark = result.passed ? "ok  " : "FAIL";
          const detail = result.passed ? "" : ` — ${result.problem}`;
          process.stdout.write(`${mark} ${layer.file}: ${result.name}${detail}\n`);
        }
      }
      const ruleCount = composed.layers.reduce((n, l) => n + l.rules.length, 0);
      process.stdout.write(
        `${files.length} file(s) valid, ${ruleCount} rules; ${passed + failed} tests: ${passed} passed, ${failed} failed\n`,
      );
      if (failed > 0) process.exitCode = 1;
    });
}

function addExplain(policy: Command): void {
  policy
    .command("explain")
    .description(
      "show how a request is classified, every rule considered, and the decision (the gateway's own evaluation)",
    )
    .requiredOption("-X, --method <method>", "HTTP method: GET, POST, PUT, PATCH, DELETE")
    .requiredOption("--path <path>", "request path and query, e.g. /api/v1/namespaces/prod")
    .option("--agent <name>", "the caller is this agent (its subject)")
    .option("--human [name]", "the caller is a person (this subject, or the --agent name)")
    .option("--username <name>", "Kubernetes username (default portcullis:agent:NAME, or NAME)")
    .option("-g, --group <group>", "a Kubernetes group of the caller (repeatable)", collect, [])
    .option("--object <file>", "the object the call would produce (JSON or YAML)")
    .option("--old-object <file>", "the object as it is now (JSON or YAML)")
    .option("--namespace-labels <k=v,...>", "labels of the request's namespace")
    .option(
      "-p, --policy <file>",
      "a policy file (repeatable); default: the baseline only",
      collect,
      [],
    )
    .option("--no-baseline", "leave out the shipped baseline pack")
    .addOption(
      new Option("-o, --output <format>", "output format")
        .choices(["text", "json"])
        .default("text"),
    )
    .addHelpText(
      "after",
      `
Examples:
  $ portcullis policy explain -X DELETE --path /api/v1/namespaces/prod --agent bot
  $ portcullis policy explain -X POST --path /api/v1/namespaces/team-a/pods \\
      --agent ci-bot --object pod.yaml --policy policies/team.yaml
  $ portcullis policy explain -X PATCH --path /apis/apps/v1/namespaces/shop/deployments/web/scale \\
      --human alice --object scale.json --namespace-labels portcullis.dev/tier=production -o json`,
    )
    .action((options: ExplainOptions) => {
      const subject = typeof options.human === "string" ? options.human : options.agent;
      if (subject === undefined)
        throw new Error("name the caller with --agent NAME or --human NAME");
      const policy = composeWithBaseline(
        options.baseline,
        options.policy.map((f) => loadPolicyFile(f)),
      );
      const input = sampleInput({
        method: options.method.toUpperCase(),
        path: options.path,
        identity: {
          subject,
          kind: options.human === undefined ? "agent" : "human",
          username: options.username,
          groups: options.group,
        },
        object: options.object === undefined ? undefined : readObject(options.object),
        oldObject: options.oldObject === undefined ? undefined : readObject(options.oldObject),
        namespaceLabels:
          options.namespaceLabels === undefined ? undefined : parseLabels(options.namespaceLabels),
      });
      process.stdout.write(explain(policy, input, options.output));
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The baseline file given as an argument is the baseline itself, not a second copy. */
function loadUnlessBaseline(file: string): CompiledPolicy | undefined {
  return resolve(file) === fileURLToPath(baselineFile) ? undefined : loadPolicyFile(file);
}

function readObject(file: string): unknown {
  try {
    return parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(",").filter((p) => p !== "")) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`--namespace-labels: expected key=value, got ${pair}`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}
