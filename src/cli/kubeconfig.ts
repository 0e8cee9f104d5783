import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { AgentTokenStore } from "../identity/agent-tokens.ts";
import { renderKubeconfig } from "../kube/kubeconfig.ts";
import { servingMaterial } from "../server/assemble.ts";
import { type CommonOptions, configFromOptions, publicUrl, withConfigOptions } from "./options.ts";

interface KubeconfigOptions extends CommonOptions {
  agent: string;
  server?: string;
  namespace?: string;
  group: string[];
  rotate?: boolean;
  output?: string;
}

/**
 * Creates (or with --rotate, replaces) an agent's token and prints a
 * kubeconfig that trusts the gateway's CA — never insecure-skip-tls-verify.
 */
export function kubeconfigCommand(): Command {
  const command = new Command("kubeconfig")
    .description("print a kubeconfig for an agent, trusting the gateway's CA")
    .requiredOption("-a, --agent <name>", "agent name (created if it does not exist)")
    .option(
      "-s, --server <url>",
      "gateway URL clients use (default: listen.publicUrl or the listen address)",
    )
    .option("-n, --namespace <ns>", "default namespace for the context")
    .option("-g, --group <group...>", "extra Kubernetes groups when the agent is created", [])
    .option("--rotate", "revoke the agent's current token and issue a new one")
    .option("-o, --output <file>", "write to a file (mode 0600) instead of standard output");
  withConfigOptions(command);
  command.addHelpText(
    "after",
    `
Examples:
  $ portcullis kubeconfig --agent ci-bot > ci-bot.kubeconfig
  $ kubectl --kubeconfig ci-bot.kubeconfig auth whoami
  $ portcullis kubeconfig --agent ci-bot --rotate -o ci-bot.kubeconfig

The token is shown only in this output; the gateway stores its hash.`,
  );
  command.action(async (options: KubeconfigOptions) => {
    const config = configFromOptions(options);
    const store = await AgentTokenStore.open(config.dataDir, config.authentication.agentTokens);
    const existing = (await store.list()).find((a) => a.name === options.agent && !a.revokedAt);
    if (existing && !options.rotate) {
      throw new Error(
        `agent ${options.agent} already has a token; pass --rotate to replace it (the old token stops working)`,
      );
    }
    if (existing) await store.revoke(options.agent);
    const { token } = await store.create(options.agent, {
      groups: existing?.groups ?? options.group,
    });
    const { caPem } = await servingMaterial(config);
    const text = renderKubeconfig({
      name: options.agent,
      server: options.server ?? publicUrl(config),
      caPem,
      token,
      ...(options.namespace ? { namespace: options.namespace } : {}),
    });
    if (options.output) {
      writeFileSync(options.output, text, { mode: 0o600 });
      process.stderr.write(`wrote ${options.output}\n`);
    } else {
      process.stdout.write(text);
    }
  });
  return command;
}
