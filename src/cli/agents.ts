import { Command } from "commander";
import { AgentTokenStore } from "../identity/agent-tokens.ts";
import { effectivePrefix } from "../identity/schema.ts";
import { type CommonOptions, configFromOptions, withConfigOptions } from "./options.ts";

async function openStore(options: CommonOptions): Promise<AgentTokenStore> {
  const config = configFromOptions(options);
  return AgentTokenStore.open(config.dataDir, config.authentication.agentTokens);
}

export function agentsCommand(): Command {
  const agents = new Command("agents").description(
    "manage Portcullis agent tokens (one identity per agent)",
  );
  withConfigOptions(
    agents
      .command("create <name>")
      .description("create an agent and print its token (shown once; only its hash is stored)")
      .option("-g, --group <group...>", "extra Kubernetes groups for this agent", []),
  ).action(async (name: string, options: CommonOptions & { group: string[] }) => {
    const config = configFromOptions(options);
    const store = await AgentTokenStore.open(config.dataDir, config.authentication.agentTokens);
    const { token, agent } = await store.create(name, { groups: options.group });
    const user = effectivePrefix(config.authentication.agentTokens.usernamePrefix) + agent.name;
    process.stderr.write(`created agent ${agent.name}; Kubernetes user ${user}\n`);
    process.stdout.write(`${token}\n`);
  });
  withConfigOptions(agents.command("list").description("list agents (never their tokens)")).action(
    async (options: CommonOptions) => {
      const store = await openStore(options);
      const rows = await store.list();
      if (rows.length === 0) return void process.stdout.write("no agents\n");
      for (const agent of rows) {
        const state = agent.revokedAt ? `revoked ${agent.revokedAt}` : "active";
        process.stdout.write(
          `${agent.name}\t${agent.groups.join(",") || "-"}\t${agent.createdAt}\t${state}\n`,
        );
      }
    },
  );
  withConfigOptions(
    agents.command("revoke <name>").description("revoke an agent's token at once"),
  ).action(async (name: string, options: CommonOptions) => {
    const store = await openStore(options);
    await store.revoke(name);
    process.stderr.write(
      `revoked agent ${name}; a running gateway refuses its token from now on\n`,
    );
  });
  return agents;
}
