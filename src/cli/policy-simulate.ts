import { type Command, Option } from "commander";
import { compileConfiguredPolicy } from "../policy/live.ts";
import { simulate } from "../policy/simulate.ts";
import {
  renderTable,
  shortTime,
  type TimeRangeOptions,
  timeRange,
  withStore,
  withTimeRangeOptions,
} from "./audit-read.ts";
import { type CommonOptions, withConfigOptions } from "./options.ts";

interface SimulateOptions extends CommonOptions, TimeRangeOptions {
  policy: string[];
  baseline: boolean;
  output: "text" | "json";
  limit: string;
}

/** `policy simulate`: recorded calls through a candidate policy, and what would change. */
export function addSimulateCommand(policy: Command): void {
  const command = policy
    .command("simulate")
    .description(
      "run the calls in the audit log through a candidate policy and report what would change",
    )
    .requiredOption("-p, --policy <file...>", "candidate policy files")
    .option("--no-baseline", "leave the shipped baseline out of the candidate")
    .addOption(
      new Option("-o, --output <format>", "output format")
        .choices(["text", "json"])
        .default("text"),
    )
    .option("--limit <n>", "most changed calls to list", "50");
  withTimeRangeOptions(command, "7d");
  withConfigOptions(command);
  command.addHelpText(
    "after",
    `
Each recorded call is judged again with what the log holds: identity, method,
path, verb, namespace labels as they were, and for create/update the recorded
request body as the object. Calls a candidate rule would judge on an object
the log does not hold (patches, deletes needing oldObject, bodies not
recorded) are counted as "not simulated".

Examples:
  $ portcullis policy simulate --policy new-policy.yaml --since 7d
  $ portcullis policy simulate --policy a.yaml b.yaml --from 2030-01-01T00:00:00Z -o json`,
  );
  command.action(async (options: SimulateOptions) => {
    const candidate = compileConfiguredPolicy({
      baseline: options.baseline,
      files: options.policy,
    });
    const range = timeRange(options);
    const report = await withStore(options, (store) =>
      simulate(store, candidate, { ...range, maxChanges: Number(options.limit) }),
    );
    if (options.output === "json") {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const out: string[] = [
      `calls: ${report.calls}   unchanged: ${report.unchanged}   would change: ${report.calls - report.unchanged - report.notSimulated}   not simulated: ${report.notSimulated}`,
    ];
    if (Object.keys(report.byRule).length > 0) {
      out.push("", "by rule:");
      for (const [key, n] of Object.entries(report.byRule).sort((a, b) => b[1] - a[1]))
        out.push(`  ${n}\t${key}`);
      out.push("", "by agent:");
      for (const [who, n] of Object.entries(report.byAgent).sort((a, b) => b[1] - a[1]))
        out.push(`  ${n}\t${who}`);
      out.push(
        "",
        renderTable(
          ["time", "user", "verb", "resource", "namespace/name", "was", "would be"],
          report.changed.map((c) => [
            shortTime(c.time),
            c.username,
            c.verb,
            c.resource,
            [c.namespace, c.name].filter(Boolean).join("/"),
            `${c.was.action} (${c.was.rule})`,
            `${c.would.action} (${c.would.rule})`,
          ]),
        ).trimEnd(),
      );
    }
    process.stdout.write(`${out.join("\n")}\n`);
  });
}
