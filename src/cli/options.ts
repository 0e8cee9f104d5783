import type { Command } from "commander";
import { loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";

export interface CommonOptions {
  config?: string;
  dataDir?: string;
}

/** Adds the options every command that reads the configuration shares. */
export function withConfigOptions(command: Command): Command {
  return command
    .option(
      "-c, --config <file>",
      "configuration file (YAML); embedded defaults when omitted",
      process.env.PORTCULLIS_CONFIG,
    )
    .option("-d, --data-dir <dir>", "data directory (overrides dataDir in the config)");
}

export function configFromOptions(options: CommonOptions): Config {
  const config = loadConfig(options.config);
  if (options.dataDir) config.dataDir = options.dataDir;
  return config;
}

/** The URL clients reach the gateway at, for generated kubeconfigs. */
export function publicUrl(config: Config): string {
  if (config.listen.publicUrl) return config.listen.publicUrl.replace(/\/+$/, "");
  const { address, port } = config.listen;
  const host =
    address === "0.0.0.0" || address === "::" || address === "127.0.0.1" ? "localhost" : address;
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
