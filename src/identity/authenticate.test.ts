import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startOidcProvider, type TestOidcProvider } from "../../test/support/oidc-provider.ts";
import { PortcullisError } from "../errors.ts";
import { AgentTokenStore } from "./agent-tokens.ts";
import { type Authenticator, createAuthenticator } from "./authenticate.ts";
import { oidcIssuerSchema } from "./schema.ts";

const client = {
  clientId: "agent-a",
  clientSecret: "secret-a",
  groups: ["team-a"],
  kind: "agent" as const,
};

let trusted: TestOidcProvider;
let untrusted: TestOidcProvider;
let dataDir: string;
let store: AgentTokenStore;
let authenticator: Authenticator;

before(async () => {
  [trusted, untrusted] = await Promise.all([
    startOidcProvider({ audience: "portcullis", clients: [client] }),
    startOidcProvider({ audience: "portcullis", clients: [client] }),
  ]);
  dataDir = await mkdtemp(join(tmpdir(), "portcullis-authn-"));
  store = await AgentTokenStore.open(dataDir);
  authenticator = createAuthenticator({
    oidc: [
      oidcIssuerSchema.parse({
        issuer: trusted.issuer,
        audiences: ["portcullis"],
        ca: trusted.caPem,
      }),
    ],
    agentTokens: store,
  });
});

after(async () => {
  await Promise.all([
    trusted.close(),
    untrusted.close(),
    rm(dataDir, { recursive: true, force: true }),
  ]);
});

async function assertRefused(authorization: string[] | undefined, message: RegExp) {
  await assert.rejects(authenticator.authenticate(authorization), (err: unknown) => {
    assert.ok(err instanceof PortcullisError, `expected a PortcullisError, got ${String(err)}`);
    assert.equal(err.code, "unauthenticated");
    assert.match(err.message, message);
    for (const value of authorization ?? []) {
      const secret = value.split(" ").at(-1) ?? "";
      assert.ok(
        secret.length < 8 || !err.message.includes(secret),
        "the credential leaked into the message",
      );
    }
    return true;
  });
}

describe("authenticate", () => {
  test("verifies an OIDC token from a trusted issuer, with the scheme in any case", async () => {
    const identity = await authenticator.authenticate([`bearer ${await trusted.token("agent-a")}`]);
    assert.equal(identity.username, "oidc:agent-a");
    assert.equal(identity.method, "oidc");
  });

  test("routes a pcat_ token to the agent token store", async () => {
    const { token } = await store.create("builder");
    const identity = await authenticator.authenticate([`Bearer ${token}`]);
    assert.equal(identity.username, "portcullis:agent:builder");
    assert.equal(identity.method, "agent-token");
  });

  test("refuses a missing header", async () => {
    await assertRefused(
      undefined,
      /^portcullis: no credentials: send a bearer token \(an OIDC ID token or a Portcullis agent token\)$/,
    );
    await assertRefused([], /^portcullis: no credentials/);
    await assertRefused([""], /^portcullis: no credentials/);
  });

  test("refuses duplicate Authorization headers, even when both are valid", async () => {
    const token = await trusted.token("agent-a");
    await assertRefused([`Bearer ${token}`, `Bearer ${token}`], /multiple Authorization headers/);
  });

  test("refuses the Basic scheme and unknown schemes", async () => {
    await assertRefused(
      [`Basic ${Buffer.from("admin:hunter2").toString("base64")}`],
      /Basic authentication is not supported/,
    );
    await assertRefused(["Negotiate YIIabcdefghijkl"], /unsupported Authorization scheme/);
  });

  test("refuses a bearer header without exactly one token", async () => {
    await assertRefused(["Bearer"], /malformed Authorization header/);
    await assertRefused(["Bearer abc def"], /malformed Authorization header/);
  });

  test("refuses a token from an issuer that is not configured, naming the issuer", async () => {
    const token = await untrusted.token("agent-a");
    const named = new RegExp(
      `token issuer "${untrusted.issuer.replaceAll(".", "\\.")}" is not a trusted issuer`,
    );
    await assertRefused([`Bearer ${token}`], named);
  });

  test("refuses a bearer token that is neither an agent token nor a JWT", async () => {
    await assertRefused(
      ["Bearer not-a-jwt-at-all"],
      /neither a Portcullis agent token nor a well-formed JWT/,
    );
  });

  test("refuses a tampered agent token", async () => {
    const { token } = await store.create("tamper-target");
    const last = token.at(-1) === "A" ? "B" : "A";
    await assertRefused([`Bearer ${token.slice(0, -1)}${last}`], /unknown agent token/);
  });
});
