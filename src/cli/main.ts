#!/usr/bin/env node
import { Command } from "commander";
import { ConfigError } from "../config/load.ts";
import { isPortcullisError } from "../errors.ts";
import { agentsCommand } from "./agents.ts";
import { approvalsCommand, grantsCommand } from "./approvals.ts";
import { auditCommand } from "./audit.ts";
import { clusterCommand } from "./cluster.ts";
import { kubeconfigCommand } from "./kubeconfig.ts";
import { policyCommand } from "./policy.ts";
import { serveCommand } from "./serve.ts";
import { sessionsCommand } from "./sessions.ts";

const program = new Command("portcullis")
  .description(
    "An identity-enforcing gateway in front of the Kubernetes API server: per-agent identity by impersonation, guardrails, approvals, masking and a tamper-evident log.",
  )
  .version("0.1.0")
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(kubeconfigCommand())
  .addCommand(agentsCommand())
  .addCommand(policyCommand())
  .addCommand(auditCommand())
  .addCommand(sessionsCommand())
  .addCommand(approvalsCommand())
  .addCommand(grantsCommand())
  .addCommand(clusterCommand());

program.addHelpText(
  "after",
  `
Quick start (a local sandbox control plane, no configuration):
  $ portcullis serve
  $ kubectl --kubeconfig .portcullis/demo-agent.kubeconfig get configmaps

Run 'portcullis <command> --help' for each command's options.`,
);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message =
    err instanceof ConfigError || isPortcullisError(err)
      ? err.message
      : `error: ${(err as Error).message}`;
  process.stderr.write(`${message.replace(/^portcullis: /, "portcullis: ")}\n`);
  process.exitCode = 1;
}
