import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { PortcullisError } from "../errors.ts";
import { AgentTokenStore } from "./agent-tokens.ts";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "portcullis-agents-"));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

async function assertRefused(attempt: Promise<unknown>, message: RegExp) {
  await assert.rejects(attempt, (err: unknown) => {
    assert.ok(err instanceof PortcullisError, `expected a PortcullisError, got ${String(err)}`);
    assert.equal(err.code, "unauthenticated");
    assert.match(err.message, message);
    return true;
  });
}

describe("agent tokens", () => {
  test("create returns a token that verifies to the agent's identity", async () => {
    const store = await AgentTokenStore.open(dataDir, {
      usernamePrefix: "portcullis:agent:",
      groups: ["portcullis:agents"],
    });
    const { token, agent } = await store.create("deploy-bot", { groups: ["team-a"] });
    assert.match(token, /^pcat_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const identity = await store.verify(token);
    assert.deepEqual(identity, {
      subject: "deploy-bot",
      issuer: "portcullis",
      kind: "agent",
      username: "portcullis:agent:deploy-bot",
      groups: ["portcullis:agents", "team-a"],
      uid: agent.id,
      extra: { "portcullis.dev/issuer": ["portcullis"] },
      tokenId: agent.id,
      method: "agent-token",
    });
  });

  test("stores only a hash of the secret, in a file only its owner can read", async () => {
    const store = await AgentTokenStore.open(dataDir);
    const { token } = await store.create("hash-check");
    const secret = token.slice("pcat_".length + 13);
    const text = await readFile(store.path, "utf8");
    assert.ok(!text.includes(secret), "the token secret is on disk");
    assert.match(text, /"secretSha256": "[0-9a-f]{64}"/);
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    assert.ok((await store.list()).every((agent) => !("secretSha256" in agent)));
  });

  test("refuses a revoked token, and lets the name be reused", async () => {
    const store = await AgentTokenStore.open(dataDir);
    const { token } = await store.create("short-lived");
    await store.revoke("short-lived");
    await assertRefused(store.verify(token), /the agent token of short-lived was revoked/);
    const { token: again } = await store.create("short-lived");
    assert.equal((await store.verify(again)).subject, "short-lived");
    assert.equal((await store.list()).length, 2);
  });

  test("refuses tampered, unknown and malformed tokens", async () => {
    const store = await AgentTokenStore.open(dataDir);
    const { token } = await store.create("target");
    const flipped = token.slice(0, 30) + (token[30] === "a" ? "b" : "a") + token.slice(31);
    await assertRefused(store.verify(flipped), /^portcullis: unknown agent token$/);
    await assertRefused(
      store.verify(`pcat_000000000000_${token.slice(18)}`),
      /unknown agent token/,
    );
    await assertRefused(store.verify(`${token}x`), /malformed agent token/);
    await assertRefused(store.verify("pcat_"), /malformed agent token/);
  });

  test("refuses a duplicate active name, a bad name and reserved groups", async () => {
    const store = await AgentTokenStore.open(dataDir);
    await store.create("twin");
    await assert.rejects(store.create("twin"), /an active agent named twin already exists/);
    for (const name of ["Upper", "-dash", "dash-", "a".repeat(64), "has_underscore", ""]) {
      await assert.rejects(store.create(name), /must be lowercase letters, digits and '-'/);
    }
    await assert.rejects(
      store.create("admin", { groups: ["system:masters"] }),
      /reserved system: group/,
    );
    await assert.rejects(store.revoke("nobody"), /no active agent named nobody/);
  });

  test("a running store sees tokens created and revoked by another process", async () => {
    const gateway = await AgentTokenStore.open(dataDir, undefined, { recheckMs: 0 });
    const cli = await AgentTokenStore.open(dataDir);
    const { token } = await cli.create("late-arrival");
    assert.equal((await gateway.verify(token)).subject, "late-arrival");
    await cli.revoke("late-arrival");
    await assertRefused(gateway.verify(token), /was revoked/);
  });

  test("by default a revocation from another process takes effect within a second", async () => {
    const gateway = await AgentTokenStore.open(dataDir);
    const cli = await AgentTokenStore.open(dataDir);
    const { token } = await cli.create("soon-revoked");
    await new Promise((r) => setTimeout(r, 1050));
    assert.equal((await gateway.verify(token)).subject, "soon-revoked");
    await cli.revoke("soon-revoked");
    await new Promise((r) => setTimeout(r, 1050));
    await assertRefused(gateway.verify(token), /was revoked/);
  });

  test("a token created by another process works at once, without waiting for the recheck", async () => {
    const gateway = await AgentTokenStore.open(dataDir);
    await new Promise((r) => setTimeout(r, 150));
    const cli = await AgentTokenStore.open(dataDir);
    const { token } = await cli.create("fresh-agent");
    assert.equal((await gateway.verify(token)).subject, "fresh-agent");
  });

  test("fails closed when agents.json cannot be parsed", async () => {
    const store = await AgentTokenStore.open(dataDir, undefined, { recheckMs: 0 });
    const { token } = await store.create("victim");
    await writeFile(store.path, "{ not json", { mode: 0o600 });
    await assertRefused(store.verify(token), /agent tokens are unavailable/);
    await assert.rejects(store.create("other"), /cannot read/);
  });
});
