/**
 * A real OpenID provider (the `oidc-provider` package) for tests, served over
 * HTTPS on 127.0.0.1 with a throwaway CA. Test agents are confidential clients
 * that get tokens the way a workload would: a `client_credentials` grant at
 * the token endpoint. With resource indicators (RFC 8707) the provider issues
 * JWT access tokens (`typ: at+jwt`) whose `aud` is the requested resource's
 * audience; `extraTokenClaims` adds `groups` and `portcullis_kind`.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
// @ts-expect-error oidc-provider ships no type declarations; its use here is small and local.
import Provider from "oidc-provider";
import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/pki.ts";

export interface TestClient {
  clientId: string;
  clientSecret: string;
  groups?: string[];
  kind?: "agent" | "human";
}

export interface TestOidcProvider {
  issuer: string;
  /** CA that signed the provider's serving certificate. */
  caPem: string;
  /** Runs a client_credentials grant over HTTPS and returns the access token (a JWT). */
  token(clientId: string): Promise<string>;
  /** The private RS256 JWK (with kid) the provider signs with: for minting bad tokens. */
  signingKey: JWK;
  /** Requests the provider has served, by URL path (e.g. "/jwks"). */
  requestCount(path: string): number;
  /** Replaces both signing keys with new ones (new kids); later tokens use them. */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function privateJwk(alg: "RS256" | "ES256"): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg, use: "sig", kid: `${alg}-${randomUUID()}` };
}

/** oidc-provider's stock memory adapter prints a warning; this one is as small and quiet. */
function memoryAdapter(name: string) {
  const store = new Map<string, Record<string, unknown>>();
  const key = (id: string) => `${name}:${id}`;
  return {
    async upsert(id: string, payload: Record<string, unknown>) {
      store.set(key(id), payload);
    },
    async find(id: string) {
      return store.get(key(id));
    },
    async findByUid() {
      return undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    async consume(id: string) {
      const payload = store.get(key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id: string) {
      store.delete(key(id));
    },
    async revokeByGrantId() {},
  };
}

function createProviderHandler(
  issuer: string,
  audience: string,
  clients: TestClient[],
  keys: JWK[],
): Handler {
  const resource = `urn:portcullis:test:${audience}`;
  const byId = new Map(clients.map((c) => [c.clientId, c]));
  const provider = new Provider(issuer, {
    adapter: memoryAdapter,
    clients: clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
    })),
    jwks: { keys },
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "",
          audience,
          accessTokenFormat: "jwt",
          accessTokenTTL: 600,
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId: string }) => {
      const client = byId.get(token.clientId);
      return { groups: client?.groups ?? [], portcullis_kind: client?.kind ?? "agent" };
    },
  });
  return provider.callback() as Handler;
}

function postForm(url: string, body: string, auth: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers = {
      authorization: `Basic ${auth}`,
      "content-type": "application/x-www-form-urlencoded",
    };
    const req = request(url, { method: "POST", headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`token endpoint answered ${res.statusCode}: ${text}`));
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

export async function startOidcProvider(options: {
  audience: string;
  clients: TestClient[];
}): Promise<TestOidcProvider> {
  const ca = await createCertificateAuthority("portcullis test OP CA");
  const serving = await issueServingCertificate(ca, "127.0.0.1", ["127.0.0.1", "localhost"]);
  const counts = new Map<string, number>();
  let handler: Handler = (_req, res) => {
    res.writeHead(503).end();
  };
  const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const path = new URL(req.url ?? "/", "https://op.invalid").pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let signingKey = await privateJwk("RS256");
  async function install(): Promise<void> {
    const keys = [signingKey, await privateJwk("ES256")];
    handler = createProviderHandler(issuer, options.audience, options.clients, keys);
  }
  await install();

  return {
    issuer,
    caPem: ca.certPem,
    get signingKey() {
      return signingKey;
    },
    async token(clientId: string): Promise<string> {
      const client = options.clients.find((c) => c.clientId === clientId);
      if (client === undefined) throw new Error(`unknown test client ${clientId}`);
      const auth = Buffer.from(
        `${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`,
      ).toString("base64");
      const body = new URLSearchParams({
        grant_type: "client_credentials",
        resource: `urn:portcullis:test:${options.audience}`,
      }).toString();
      const answer = JSON.parse(await postForm(`${issuer}/token`, body, auth, ca.certPem));
      return answer.access_token as string;
    },
    requestCount(path: string): number {
      return counts.get(path) ?? 0;
    },
    async rotateKeys(): Promise<void> {
      signingKey = await privateJwk("RS256");
      await install();
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      );
    },
  };
}
