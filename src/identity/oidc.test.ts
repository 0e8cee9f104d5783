import assert from "node:assert/strict";
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  base64url,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import { startOidcProvider, type TestOidcProvider } from "../../test/support/oidc-provider.ts";
import { PortcullisError } from "../errors.ts";
import {
  createHttpsFetch,
  createOidcVerifier,
  type HttpsFetch,
  type OidcVerifierOptions,
} from "./oidc.ts";
import { type OidcIssuerInput, oidcIssuerSchema } from "./schema.ts";

const clients = [
  { clientId: "agent-a", clientSecret: "secret-a", groups: ["team-a", "deployers"], kind: "agent" },
  { clientId: "person-h", clientSecret: "secret-h", groups: ["ops"], kind: "human" },
] as const;

let op: TestOidcProvider;

before(async () => {
  op = await startOidcProvider({
    audience: "portcullis",
    clients: clients.map((c) => ({ ...c, groups: [...c.groups] })),
  });
});
after(() => op.close());

function verifierFor(overrides: Partial<OidcIssuerInput> = {}, options?: OidcVerifierOptions) {
  const config = oidcIssuerSchema.parse({
    issuer: op.issuer,
    audiences: ["portcullis"],
    ca: op.caPem,
    kindClaim: "portcullis_kind",
    groupsPrefix: "idp:",
    ...overrides,
  });
  return createOidcVerifier(config, options);
}

/** A token signed by the OP's real key (or `key`), with `claims` over sane defaults. */
async function mint(claims: JWTPayload, key: JWK = op.signingKey, alg = key.alg ?? "RS256") {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: op.issuer,
    sub: "agent-a",
    aud: "portcullis",
    iat: now,
    exp: now + 300,
    ...claims,
  })
    .setProtectedHeader({ alg, kid: key.kid, typ: "at+jwt" })
    .sign(await importJWK(key, alg));
}

async function assertRefused(attempt: Promise<unknown>, message: RegExp, token?: string) {
  await assert.rejects(attempt, (err: unknown) => {
    assert.ok(err instanceof PortcullisError, `expected a PortcullisError, got ${String(err)}`);
    assert.equal(err.code, "unauthenticated");
    assert.match(err.message, message);
    if (token !== undefined)
      assert.ok(!err.message.includes(token), "the token leaked into the message");
    return true;
  });
}

describe("OIDC verifier against a real OpenID provider", () => {
  test("accepts a token from the token endpoint and maps username, groups and kind", async () => {
    const token = await op.token("agent-a");
    const identity = await verifierFor().verify(token);
    assert.equal(identity.username, "oidc:agent-a");
    assert.deepEqual(identity.groups, ["idp:team-a", "idp:deployers"]);
    assert.equal(identity.kind, "agent");
    assert.equal(identity.subject, "agent-a");
    assert.equal(identity.uid, "agent-a");
    assert.equal(identity.issuer, op.issuer);
    assert.equal(identity.method, "oidc");
    assert.equal(typeof identity.tokenId, "string");
    assert.deepEqual(identity.extra, { "portcullis.dev/issuer": [op.issuer] });
  });

  test("takes the kind from the kind claim and honours the '-' (no prefix) username prefix", async () => {
    const identity = await verifierFor({ usernamePrefix: "-" }).verify(await op.token("person-h"));
    assert.equal(identity.kind, "human");
    assert.equal(identity.username, "person-h");
  });

  test("refuses an expired token", async () => {
    const token = await mint({ exp: Math.floor(Date.now() / 1000) - 120 });
    await assertRefused(verifierFor().verify(token), /^portcullis: token expired$/, token);
  });

  test("refuses a token that is not yet valid beyond the clock skew, accepts one within it", async () => {
    const now = Math.floor(Date.now() / 1000);
    const early = await mint({ nbf: now + 120 });
    await assertRefused(verifierFor().verify(early), /token not yet valid/, early);
    await verifierFor().verify(await mint({ nbf: now + 10 }));
  });

  test("refuses a token for another audience", async () => {
    const token = await op.token("agent-a");
    await assertRefused(
      verifierFor({ audiences: ["kubernetes"] }).verify(token),
      /token audience does not include kubernetes/,
    );
    const minted = await mint({ aud: "someone-else" });
    await assertRefused(verifierFor().verify(minted), /audience does not include portcullis/);
  });

  test("refuses a token whose iss is another issuer, even when signed by the trusted key", async () => {
    const token = await mint({ iss: "https://evil.example" });
    await assertRefused(verifierFor().verify(token), /token issuer is not https:\/\/127\.0\.0\.1:/);
  });

  test("refuses a token without exp", async () => {
    const token = await mint({ exp: undefined });
    await assertRefused(verifierFor().verify(token), /no valid expiry/);
  });

  test("refuses a token signed with alg none", async () => {
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }));
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: op.issuer, sub: "agent-a", aud: "portcullis", exp: now + 300 };
    const token = `${header}.${base64url.encode(JSON.stringify(claims))}.`;
    await assertRefused(verifierFor().verify(token), /algorithm "none" is not allowed/);
  });

  test("refuses HS256 signed with the issuer's public key as the HMAC secret", async () => {
    const publicPem = createPublicKey({
      key: op.signingKey as JsonWebKey,
      format: "jwk",
    })
      .export({ type: "spki", format: "pem" })
      .toString();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: op.issuer,
      sub: "agent-a",
      aud: "portcullis",
      exp: now + 300,
    })
      .setProtectedHeader({ alg: "HS256", kid: op.signingKey.kid })
      .sign(new TextEncoder().encode(publicPem));
    await assertRefused(verifierFor().verify(token), /algorithm "HS256" is not allowed/);
  });

  test("refuses a token whose signature was altered", async () => {
    const token = await op.token("agent-a");
    const cut = token.lastIndexOf(".") + 20;
    const altered = token.slice(0, cut) + (token[cut] === "A" ? "B" : "A") + token.slice(cut + 1);
    await assertRefused(verifierFor().verify(altered), /token signature is invalid/, altered);
  });

  test("refuses unknown keys and rate limits the JWKS refetches they cause", async () => {
    const verifier = verifierFor();
    await verifier.verify(await op.token("agent-a")); // keys now cached
    const fetchesBefore = op.requestCount("/jwks");
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const stranger = { ...(await exportJWK(privateKey)), kid: "not-published", alg: "RS256" };
    for (let i = 0; i < 25; i++) {
      await assertRefused(
        verifier.verify(await mint({}, stranger)),
        /signed by a key that issuer .* does not publish/,
      );
    }
    assert.ok(
      op.requestCount("/jwks") - fetchesBefore <= 1,
      "unknown kids must not each refetch the JWKS",
    );
  });

  test("refuses an issuer whose discovery document names another issuer", async () => {
    await assertRefused(
      verifierFor({ issuer: `${op.issuer}/` }).verify(await op.token("agent-a")),
      /discovery document of issuer .* names a different issuer/,
    );
  });

  test("retries discovery after a failure instead of remembering it forever", async () => {
    const real = createHttpsFetch(op.caPem);
    let calls = 0;
    const flaky: HttpsFetch = (url, init) => {
      calls++;
      return calls === 1 ? Promise.reject(new Error("connection reset")) : real(url, init);
    };
    const verifier = verifierFor({}, { fetch: flaky, discoveryRetryMs: 50 });
    const token = await op.token("agent-a");
    await assertRefused(verifier.verify(token), /cannot fetch the discovery document/);
    await assertRefused(verifier.verify(token), /cannot fetch the discovery document/);
    assert.equal(calls, 1, "a failure is remembered briefly, not retried on every request");
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal((await verifier.verify(token)).username, "oidc:agent-a");
  });

  test("does not trust the issuer's TLS certificate without its CA", async () => {
    const token = await op.token("agent-a");
    await assertRefused(
      verifierFor({ ca: undefined }).verify(token),
      /cannot fetch the discovery document/,
    );
  });

  test("refuses a claim that would map to a reserved system: group", async () => {
    const token = await mint({ groups: ["system:masters"] });
    await assertRefused(
      verifierFor({ groupsPrefix: "" }).verify(token),
      /reserved Kubernetes name system:masters/,
    );
  });

  test("refuses a token without the configured username claim", async () => {
    await assertRefused(
      verifierFor({ usernameClaim: "email" }).verify(await op.token("agent-a")),
      /claim email \(the username\) is missing/,
    );
  });
});

describe("OIDC key rotation", () => {
  test("a new kid at the provider is picked up by refetching the JWKS", async () => {
    const rotating = await startOidcProvider({
      audience: "portcullis",
      clients: [{ ...clients[0], groups: [] }],
    });
    try {
      const config = oidcIssuerSchema.parse({
        issuer: rotating.issuer,
        audiences: ["portcullis"],
        ca: rotating.caPem,
      });
      const verifier = createOidcVerifier(config, { jwksCooldownMs: 100 });
      await verifier.verify(await rotating.token("agent-a"));
      await rotating.rotateKeys();
      await new Promise((resolve) => setTimeout(resolve, 150)); // let the refetch cooldown pass
      const identity = await verifier.verify(await rotating.token("agent-a"));
      assert.equal(identity.username, "oidc:agent-a");
      assert.equal(rotating.requestCount("/jwks"), 2);
    } finally {
      await rotating.close();
    }
  });
});
