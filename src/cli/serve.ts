import { join, resolve } from "node:path";
import { Command } from "commander";
import { pino } from "pino";
import { type ControlPlane, startControlPlane } from "../cluster/launcher.ts";
import { AgentTokenStore } from "../identity/agent-tokens.ts";
import { readKubeconfig } from "../kube/kubeconfig.ts";
import { assembleGateway, upstreamTargetFromConfig } from "../server/assemble.ts";
import { type CommonOptions, configFromOptions, publicUrl, withConfigOptions } from "./options.ts";
import { demoNamespace, prepareDemo } from "./sandbox.ts";

interface ServeOptions extends CommonOptions {
  port?: string;
  address?: string;
}

export function serveCommand(): Command {
  const command = new Command("serve")
    .description("run the gateway")
    .option("-p, --port <port>", "listen port (overrides listen.port)")
    .option("--address <address>", "listen address (overrides listen.address)");
  withConfigOptions(command);
  command.addHelpText(
    "after",
    `
Without an upstream in the configuration, serve starts a local Kubernetes
control plane (built from pinned sources on first use), creates the agent
"demo-agent" with edit rights in namespace "demo", and prints a kubeconfig
to try. With one, it proxies that API server:

  $ portcullis serve --config portcullis.yaml
  $ portcullis kubeconfig --agent ci-bot > ci-bot.kubeconfig
  $ kubectl --kubeconfig ci-bot.kubeconfig get pods

Health: GET /healthz, /readyz (API server reachable), /metrics (Prometheus).
SIGINT/SIGTERM drain in-flight requests and end watches cleanly.`,
  );
  command.action(async (options: ServeOptions) => {
    const config = configFromOptions(options);
    if (options.port !== undefined) config.listen.port = Number(options.port);
    if (options.address !== undefined) config.listen.address = options.address;
    config.dataDir = resolve(config.dataDir);
    const log = pino({ level: config.logging.level, base: { service: "portcullis" } });
    const agents = await AgentTokenStore.open(config.dataDir, config.authentication.agentTokens);

    let cluster: ControlPlane | undefined;
    let target = upstreamTargetFromConfig(config);
    if (!target) {
      process.stderr.write("no upstream configured: starting the local sandbox control plane…\n");
      cluster = await startControlPlane({
        dataDir: join(config.dataDir, "cluster"),
        log: (line) => log.debug({ component: "cluster" }, line),
      });
      target = readKubeconfig(cluster.gatewayKubeconfig);
    }
    const { gateway, serving } = await assembleGateway(config, target, agents, log);

    if (cluster) {
      const url = config.listen.port === 0 ? gateway.url : publicUrl(config);
      const kubeconfig = await prepareDemo(cluster, agents, config, url, serving.caPem);
      process.stderr.write(
        [
          "",
          `Portcullis is listening on ${gateway.url}, in front of a local API server at ${cluster.server}.`,
          `An agent kubeconfig (demo-agent, may edit namespace ${demoNamespace}): ${kubeconfig}`,
          "Try:",
          `  kubectl --kubeconfig ${kubeconfig} auth whoami`,
          `  kubectl --kubeconfig ${kubeconfig} create configmap hello --from-literal=greeting=hi`,
          `  kubectl --kubeconfig ${kubeconfig} get configmaps`,
          `Admin kubeconfig for the sandbox (bypasses the gateway): ${cluster.adminKubeconfig}`,
          "",
        ].join("\n"),
      );
    }

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "shutting down");
      await gateway.close();
      await cluster?.stop();
      process.exit(0);
    };
    process.on("SIGINT", () => void stop("SIGINT"));
    process.on("SIGTERM", () => void stop("SIGTERM"));
  });
  return command;
}
