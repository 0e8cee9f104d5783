/**
 * Portcullis agent tokens: `pcat_<id>_<secret>`, where id is 12 hex characters
 * (it finds the record) and secret is 32 random bytes, base64url. Only the
 * SHA-256 of the secret is stored, in `<dataDir>/agents.json`. A plain hash is
 * enough because the secret has 256 bits of entropy: there is nothing to guess,
 * so a slow password hash would only cost time on every request.
 *
 * The CLI and a running gateway share the file: writes go to a temp file that
 * is renamed into place, and readers reload whenever the file's identity
 * (inode, size, mtime) changes, so `portcullis agents create` and `revoke`
 * take effect without a restart. Concurrent writers are not locked against
 * each other; the CLI is expected to be run by one operator at a time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { PortcullisError } from "../errors.ts";
import type { Identity } from "./identity.ts";
import { type AgentTokensConfig, agentTokensSchema, effectivePrefix } from "./schema.ts";

export const agentTokenPrefix = "pcat_";
const tokenPattern = /^pcat_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const namePattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const agentRecordSchema = z.object({
  name: z.string().regex(namePattern),
  id: z.string().regex(/^[0-9a-f]{12}$/),
  secretSha256: z.string().regex(/^[0-9a-f]{64}$/),
  groups: z.array(z.string()),
  kind: z.literal("agent"),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
});
const agentsFileSchema = z.object({ agents: z.array(agentRecordSchema) });

export type AgentRecord = z.infer<typeof agentRecordSchema>;
/** What `list` shows: everything but the hash. */
export type AgentSummary = Omit<AgentRecord, "secretSha256">;

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function summarize({ secretSha256: _, ...summary }: AgentRecord): AgentSummary {
  return summary;
}

function unauthenticated(message: string, cause?: unknown): PortcullisError {
  return new PortcullisError("unauthenticated", message, { cause });
}

const defaultRecheckMs = 1000;
const unknownRecheckMs = 100;

export class AgentTokenStore {
  readonly path: string;
  readonly #config: AgentTokensConfig;
  #agents: AgentRecord[] = [];
  #byId = new Map<string, AgentRecord>();
  /** inode:size:mtime of the file last loaded; "" when there was no file. */
  #version: string | undefined;
  #loadError: unknown;
  #refreshing: Promise<void> | undefined;
  readonly #recheckMs: number;
  #checkedAt = 0;

  private constructor(path: string, config: AgentTokensConfig, recheckMs: number) {
    this.path = path;
    this.#config = config;
    this.#recheckMs = recheckMs;
  }

  /**
   * `recheckMs` bounds how stale the gateway's view of agents.json may be when
   * verifying: a stat per request costs a file open on every call, so by
   * default a token created or revoked from the CLI takes effect within one
   * second. Writes always re-read the file first.
   */
  static async open(
    dataDir: string,
    config?: AgentTokensConfig,
    options: { recheckMs?: number } = {},
  ): Promise<AgentTokenStore> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const store = new AgentTokenStore(
      join(dataDir, "agents.json"),
      config ?? agentTokensSchema.parse({}),
      options.recheckMs ?? defaultRecheckMs,
    );
    await store.#refresh();
    return store;
  }

  /** Creates an agent and returns its token: the only time the token exists in full. */
  async create(
    name: string,
    options: { groups?: string[] } = {},
  ): Promise<{ token: string; agent: AgentSummary }> {
    const groups = options.groups ?? [];
    if (!namePattern.test(name)) {
      throw new PortcullisError(
        "bad_request",
        `portcullis: agent name ${JSON.stringify(name)} must be lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit`,
      );
    }
    const badGroup = groups.find((g) => g === "" || g.startsWith("system:"));
    if (badGroup !== undefined) {
      throw new PortcullisError(
        "bad_request",
        `portcullis: group ${JSON.stringify(badGroup)} is not allowed (empty, or a reserved system: group)`,
      );
    }
    const agents = await this.#current();
    if (agents.some((a) => a.name === name && a.revokedAt === undefined)) {
      throw new PortcullisError(
        "bad_request",
        `portcullis: an active agent named ${name} already exists; revoke it first`,
      );
    }
    const id = randomBytes(6).toString("hex");
    const secret = randomBytes(32).toString("base64url");
    const record: AgentRecord = {
      name,
      id,
      secretSha256: sha256(secret).toString("hex"),
      groups,
      kind: "agent",
      createdAt: new Date().toISOString(),
    };
    await this.#write([...agents, record]);
    return { token: `${agentTokenPrefix}${id}_${secret}`, agent: summarize(record) };
  }

  async list(): Promise<AgentSummary[]> {
    return (await this.#current()).map(summarize);
  }

  /** The Kubernetes usernames of revoked agents (their open streams must end). */
  async revokedUsernames(): Promise<string[]> {
    const prefix = effectivePrefix(this.#config.usernamePrefix);
    return (await this.#current())
      .filter((a) => a.revokedAt !== undefined)
      .map((a) => prefix + a.name);
  }

  async revoke(name: string): Promise<AgentSummary> {
    const agents = await this.#current();
    const agent = agents.find((a) => a.name === name && a.revokedAt === undefined);
    if (agent === undefined) {
      throw new PortcullisError("not_found", `portcullis: no active agent named ${name}`);
    }
    const revoked = { ...agent, revokedAt: new Date().toISOString() };
    await this.#write(agents.map((a) => (a === agent ? revoked : a)));
    return summarize(revoked);
  }

  async verify(token: string): Promise<Identity> {
    const match = tokenPattern.exec(token);
    if (match === null) {
      throw unauthenticated("portcullis: malformed agent token (expected pcat_<id>_<secret>)");
    }
    if (performance.now() - this.#checkedAt >= this.#recheckMs) await this.#refresh();
    if (this.#loadError !== undefined) {
      // Fail closed: a file we cannot read might hold a revocation.
      throw unauthenticated(
        "portcullis: agent tokens are unavailable: agents.json cannot be read",
        this.#loadError,
      );
    }
    const [, id = "", secret = ""] = match;
    // A token just created by the CLI in another process: look again, at most
    // every `unknownRecheckMs`, so a flood of unknown tokens cannot turn every
    // request into a file read.
    if (!this.#byId.has(id) && performance.now() - this.#checkedAt >= unknownRecheckMs) {
      await this.#refresh();
    }
    const agent = this.#byId.get(id);
    // Compare even for an unknown id so the timing says nothing about the secret.
    const expected =
      agent === undefined ? Buffer.alloc(32) : Buffer.from(agent.secretSha256, "hex");
    const matches = timingSafeEqual(sha256(secret), expected);
    if (agent === undefined || !matches) throw unauthenticated("portcullis: unknown agent token");
    if (agent.revokedAt !== undefined) {
      throw unauthenticated(`portcullis: the agent token of ${agent.name} was revoked`);
    }
    return {
      subject: agent.name,
      issuer: "portcullis",
      kind: "agent",
      username: effectivePrefix(this.#config.usernamePrefix) + agent.name,
      groups: [...new Set([...this.#config.groups, ...agent.groups])],
      uid: agent.id,
      extra: { "portcullis.dev/issuer": ["portcullis"] },
      tokenId: agent.id,
      method: "agent-token",
    };
  }

  /** The records as on disk now; refuses to build a write on a file it cannot read. */
  async #current(): Promise<AgentRecord[]> {
    await this.#refresh();
    if (this.#loadError !== undefined) {
      throw new PortcullisError("internal", `portcullis: cannot read ${this.path}`, {
        cause: this.#loadError,
      });
    }
    return this.#agents;
  }

  #refresh(): Promise<void> {
    this.#checkedAt = performance.now();
    this.#refreshing ??= this.#reloadIfChanged().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #reloadIfChanged(): Promise<void> {
    // Stat and read through one descriptor, so the version matches the bytes read.
    let file: FileHandle | undefined;
    try {
      file = await open(this.path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        this.#load([]);
        this.#loadError = err;
        this.#version = undefined; // try again on the next call
        return;
      }
    }
    try {
      const stats = await file?.stat({ bigint: true });
      const version = stats === undefined ? "" : `${stats.ino}:${stats.size}:${stats.mtimeNs}`;
      if (version === this.#version) return;
      try {
        const text = file === undefined ? '{"agents":[]}' : await file.readFile("utf8");
        this.#load(agentsFileSchema.parse(JSON.parse(text)).agents);
        this.#loadError = undefined;
      } catch (err) {
        this.#load([]);
        this.#loadError = err;
      }
      this.#version = version;
    } finally {
      await file?.close();
    }
  }

  #load(agents: AgentRecord[]): void {
    this.#agents = agents;
    this.#byId = new Map(agents.map((a) => [a.id, a]));
  }

  async #write(agents: AgentRecord[]): Promise<void> {
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify({ agents }, null, 2)}\n`);
      await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    // rename is atomic: a reader sees the old file or the new one, never half of one.
    await rename(temp, this.path);
    await this.#refresh();
  }
}
