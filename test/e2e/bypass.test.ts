/**
 * Attempts to get around the gateway's identity enforcement, judged by what
 * the real API server reports as the caller (a SelfSubjectReview), and by
 * the Status the gateway answers with.
 */
import assert from "node:assert/strict";
import type { OutgoingHttpHeaders } from "node:http";
import { after, before, describe, test } from "node:test";
import { base64url, exportSPKI, generateKeyPair, importJWK, type JWTPayload, SignJWT } from "jose";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { rawRequest } from "../support/https.ts";
import { startOidcProvider, type TestOidcProvider } from "../support/oidc-provider.ts";

let cluster: ControlPlane;
let gw: TestGateway;
let op: TestOidcProvider;
let otherOp: TestOidcProvider;
let agentToken: string;
let agentUser: string;

type SigningKey = Parameters<SignJWT["sign"]>[0];

const audience = "portcullis";
const ssrPath = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
const ssrBody = JSON.stringify({
  apiVersion: "authentication.k8s.io/v1",
  kind: "SelfSubjectReview",
});

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  op = await startOidcProvider({
    audience,
    clients: [
      {
        clientId: "deploy-bot",
        clientSecret: "s3cret-deploy-bot",
        groups: ["deployers"],
        kind: "agent",
      },
    ],
  });
  otherOp = await startOidcProvider({
    audience,
    clients: [
      { clientId: "deploy-bot", clientSecret: "s3cret-deploy-bot", groups: ["system:masters"] },
    ],
  });
  gw = await startTestGateway(cluster, {
    oidc: [
      {
        issuer: op.issuer,
        audiences: [audience],
        ca: op.caPem,
        usernamePrefix: "oidc:",
        groupsPrefix: "oidc:",
      },
    ],
  });
  const agent = await gw.agent("bypass-agent");
  agentToken = agent.token;
  agentUser = agent.username;
});

after(async () => {
  await gw?.close();
  await op?.close();
  await otherOp?.close();
  await cluster?.stop();
});

interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

async function whoami(headers: OutgoingHttpHeaders): Promise<UserInfo> {
  const res = await rawRequest(gw.url, gw.caPem, {
    method: "POST",
    path: ssrPath,
    headers: { "content-type": "application/json", ...headers },
    body: ssrBody,
  });
  assert.equal(res.status, 201, res.body);
  return (JSON.parse(res.body) as { status: { userInfo: UserInfo } }).status.userInfo;
}

function assertIsAgent(info: UserInfo): void {
  assert.equal(info.username, agentUser);
  assert.ok(!info.groups?.includes("system:masters"), `groups: ${info.groups}`);
  assert.ok(!info.groups?.includes("evil"), `groups: ${info.groups}`);
  assert.notEqual(info.uid, "uid-of-admin");
  assert.equal(info.extra?.scopes, undefined);
}

async function assertStatus(
  headers: OutgoingHttpHeaders,
  path: string,
  code: number,
  message: RegExp,
): Promise<void> {
  const res = await rawRequest(gw.url, gw.caPem, { path, headers });
  assert.equal(res.status, code, res.body);
  const status = JSON.parse(res.body) as { kind: string; code: number; message: string };
  assert.equal(status.kind, "Status");
  assert.equal(status.code, code, "HTTP status equals Status.code");
  assert.match(status.message, message);
}

describe("client impersonation headers never pass", () => {
  const attempts: Array<[string, OutgoingHttpHeaders]> = [
    ["Impersonate-User", { "impersonate-user": "admin" }],
    ["Impersonate-Group", { "impersonate-group": ["system:masters", "evil"] }],
    ["Impersonate-Uid", { "impersonate-uid": "uid-of-admin" }],
    ["Impersonate-Extra-*", { "impersonate-extra-scopes": "everything" }],
    ["front-proxy X-Remote-User", { "x-remote-user": "admin", "x-remote-group": "system:masters" }],
  ];
  for (const [label, extra] of attempts) {
    test(`${label} is dropped`, async () => {
      assertIsAgent(await whoami({ authorization: `Bearer ${agentToken}`, ...extra }));
    });
    test(`${label} is dropped when also listed in Connection`, async () => {
      const listed = Object.keys(extra).join(", ");
      assertIsAgent(
        await whoami({
          authorization: `Bearer ${agentToken}`,
          connection: `keep-alive, ${listed}`,
          ...extra,
        }),
      );
    });
  }

  test("listing Authorization and Impersonate-User in Connection cannot strip the gateway's own", async () => {
    const info = await whoami({
      authorization: `Bearer ${agentToken}`,
      connection: "authorization, impersonate-user, impersonate-group",
    });
    assert.equal(info.username, agentUser, "still impersonated, not the gateway's own identity");
  });
});

describe("ambiguous paths are refused before anything is forwarded", () => {
  const paths = [
    "/api/v1/namespaces/default%2Fsecrets",
    "/api/v1/namespaces/default/configmaps/../../../secrets",
    "/api/v1/namespaces/default/./configmaps",
    "/api/v1/namespaces/default/%2e%2e/secrets",
    "/api//v1/namespaces",
    "/api/v1/namespaces/%00",
  ];
  for (const path of paths) {
    test(`refuses ${path}`, async () => {
      await assertStatus(
        { authorization: `Bearer ${agentToken}` },
        path,
        400,
        /portcullis: refused ambiguous request path/,
      );
    });
  }
});

describe("credentials", () => {
  test("no credentials: 401 Status", async () => {
    await assertStatus({}, "/api/v1/namespaces", 401, /no credentials/);
  });

  test("duplicate Authorization headers: 401", async () => {
    const oidcToken = await op.token("deploy-bot");
    await assertStatus(
      // Node sends an array-valued header once per value.
      { authorization: [`Bearer ${agentToken}`, `Bearer ${oidcToken}`] as unknown as string },
      "/api/v1/namespaces",
      401,
      /multiple Authorization headers/i,
    );
  });

  test("a token from the real OpenID provider is impersonated with mapped claims", async () => {
    const info = await whoami({ authorization: `Bearer ${await op.token("deploy-bot")}` });
    assert.equal(info.username, "oidc:deploy-bot");
    assert.ok(info.groups?.includes("oidc:deployers"));
  });

  test("a token from an issuer that is not configured: 401", async () => {
    await assertStatus(
      { authorization: `Bearer ${await otherOp.token("deploy-bot")}` },
      "/api/v1/namespaces",
      401,
      /issuer/i,
    );
  });

  async function mint(
    claims: JWTPayload,
    options: { alg?: string; key?: SigningKey; kid?: string } = {},
  ) {
    const key = options.key ?? (await importJWK(op.signingKey, "RS256"));
    const now = Math.floor(Date.now() / 1000);
    // The claims under test override the valid defaults.
    const payload = {
      sub: "deploy-bot",
      iss: op.issuer,
      aud: audience,
      iat: now - 60,
      exp: now + 600,
      ...claims,
    };
    return new SignJWT(payload)
      .setProtectedHeader({
        alg: options.alg ?? "RS256",
        kid: options.kid ?? op.signingKey.kid ?? "",
      })
      .sign(key);
  }

  const refusals: Array<[string, () => Promise<string>, RegExp]> = [
    ["expired", () => mint({ exp: Math.floor(Date.now() / 1000) - 3600 }), /expired/i],
    [
      "not yet valid",
      () => mint({ nbf: Math.floor(Date.now() / 1000) + 3600 }),
      /not yet valid|nbf/i,
    ],
    ["for another audience", () => mint({ aud: "someone-else" }), /audience/i],
    [
      "signed with alg none",
      async () => {
        const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }));
        const now = Math.floor(Date.now() / 1000);
        const payload = base64url.encode(
          JSON.stringify({ iss: op.issuer, aud: audience, sub: "admin", iat: now, exp: now + 600 }),
        );
        return `${header}.${payload}.`;
      },
      /algorithm|alg/i,
    ],
    [
      "HMAC-signed with the provider's public key as the secret",
      async () => {
        const publicJwk = { ...op.signingKey };
        for (const k of ["d", "p", "q", "dp", "dq", "qi"] as const) delete publicJwk[k];
        const pem = await exportSPKI(
          (await importJWK(publicJwk, "RS256")) as Parameters<typeof exportSPKI>[0],
        );
        return mint({}, { alg: "HS256", key: new TextEncoder().encode(pem) });
      },
      /algorithm|alg/i,
    ],
    [
      "signed by an unknown key",
      async () => {
        const { privateKey } = await generateKeyPair("RS256");
        return mint({}, { key: privateKey, kid: "not-in-the-jwks" });
      },
      /key|signature/i,
    ],
  ];
  for (const [label, make, message] of refusals) {
    test(`a token ${label}: 401`, async () => {
      await assertStatus(
        { authorization: `Bearer ${await make()}` },
        "/api/v1/namespaces",
        401,
        message,
      );
    });
  }

  test("a tampered agent token: 401", async () => {
    const tampered = `${agentToken.slice(0, -2)}${agentToken.endsWith("AA") ? "BB" : "AA"}`;
    await assertStatus(
      { authorization: `Bearer ${tampered}` },
      "/api/v1/namespaces",
      401,
      /token/i,
    );
  });
});
