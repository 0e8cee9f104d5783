/**
 * The audit stage inside a real gateway, with a stand-in upstream: what each
 * call's records hold (levels, bodies, bytes), that Secrets' payloads are never
 * kept, and that the completion is durable before the answer ends.
 */

import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { pino } from "pino";
import { openTestAuditLog, type TestAuditLog } from "../../test/support/audit.ts";
import { rawRequest } from "../../test/support/https.ts";
import { allowAllPolicy } from "../../test/support/policy.ts";
import type { CompletionRecord, RequestRecord } from "../audit/record.ts";
import type { Identity } from "../identity/identity.ts";
import { Upstream } from "../kube/upstream.ts";
import { buildProfiles } from "../masking/profiles.ts";
import { type Gateway, startGateway } from "../server/gateway.ts";
import { createCertificateAuthority, issueServingCertificate } from "../tls/pki.ts";

const identity: Identity = {
  subject: "recorder",
  issuer: "portcullis",
  kind: "agent",
  username: "portcullis:agent:recorder",
  groups: ["portcullis:agents"],
  extra: {},
  tokenId: "abcdef012345",
  method: "agent-token",
};

const objectBody = JSON.stringify({
  kind: "ConfigMap",
  apiVersion: "v1",
  metadata: { name: "x" },
  data: { k: "v" },
});
const secretBody = JSON.stringify({
  kind: "Secret",
  apiVersion: "v1",
  metadata: { name: "s" },
  data: { password: "aHVudGVyMg==" },
});

let upstreamServer: Server;
let gateway: Gateway;
let audit: TestAuditLog;
let caPem: string;
let port: number;

before(async () => {
  const ca = await createCertificateAuthority("audit stage test CA");
  const serving = await issueServingCertificate(ca, "localhost", ["localhost", "127.0.0.1"]);
  upstreamServer = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    req.resume();
    const body = req.url?.includes("/secrets") ? secretBody : objectBody;
    // Content-Length responses: the gateway must hold their last bytes.
    res.writeHead(req.method === "POST" ? 201 : 200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  });
  await new Promise<void>((r) => upstreamServer.listen(0, "127.0.0.1", r));
  const upstreamPort = (upstreamServer.address() as AddressInfo).port;
  audit = await openTestAuditLog();
  const upstream = new Upstream(
    { server: `https://127.0.0.1:${upstreamPort}`, caPem: ca.certPem, token: "gw" },
    { maxSockets: 8 },
  );
  gateway = await startGateway({
    address: "127.0.0.1",
    port: 0,
    serving: { caPem: ca.certPem, ...serving },
    deps: {
      upstream,
      masking: buildProfiles({}),
      policy: allowAllPolicy(upstream, pino({ level: "silent" })),
      authenticator: { authenticate: async () => identity },
      audit: audit.stage,
    },
    log: pino({ level: "silent" }),
    drainTimeoutMs: 1000,
  });
  caPem = ca.certPem;
  port = Number(new URL(gateway.url).port);
});

after(async () => {
  await gateway?.close();
  await audit?.close();
  await new Promise((r) => upstreamServer?.close(r));
});

function call(method: string, path: string, body?: string) {
  return rawRequest(`https://localhost:${port}`, caPem, {
    method,
    path,
    headers: {
      authorization: "Bearer t",
      "content-type": "application/json",
      "kubectl-command": "kubectl apply",
    },
    ...(body === undefined ? {} : { body }),
  });
}

async function recordsOf(
  path: string,
): Promise<{ request: RequestRecord; completion: CompletionRecord }> {
  const requests = (await audit.log.store.search({ kind: "request" }))
    .map((r) => JSON.parse(r.body) as RequestRecord)
    .filter((r) => r.request.path === path);
  const request = requests.at(-1);
  assert.ok(request, `no request record for ${path}`);
  const [completionRow] = await audit.log.store.search({
    kind: "completion",
    requestId: request.requestId,
  });
  assert.ok(completionRow, `no completion record for ${path}`);
  return { request, completion: JSON.parse(completionRow.body) as CompletionRecord };
}

test("a write is recorded at RequestResponse: request body and the answer as sent, with its size", async () => {
  const sent = JSON.stringify({ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "x" } });
  const answer = await call("POST", "/api/v1/namespaces/a/configmaps", sent);
  assert.equal(answer.status, 201);
  const { request, completion } = await recordsOf("/api/v1/namespaces/a/configmaps");
  assert.equal(request.level, "RequestResponse");
  assert.equal(request.body?.text, sent);
  assert.equal(request.session.command, "kubectl apply");
  assert.equal(request.identity.username, identity.username);
  assert.equal(completion.outcome, "completed");
  assert.equal(completion.status, 201);
  assert.equal(completion.bytes, Buffer.byteLength(objectBody));
  assert.equal(completion.body?.text, objectBody);
});

test("a read is recorded at Metadata: no bodies, but the size and status", async () => {
  await call("GET", "/api/v1/namespaces/a/configmaps/x");
  const { request, completion } = await recordsOf("/api/v1/namespaces/a/configmaps/x");
  assert.equal(request.level, "Metadata");
  assert.equal(completion.body, undefined);
  assert.equal(completion.bytes, Buffer.byteLength(objectBody));
  assert.equal(completion.status, 200);
});

test("a Secret's payload is never recorded, whatever the level", async () => {
  await call("POST", "/api/v1/namespaces/a/secrets", secretBody);
  const { request, completion } = await recordsOf("/api/v1/namespaces/a/secrets");
  assert.equal(request.level, "Metadata");
  assert.equal(request.body, undefined);
  assert.equal(completion.body, undefined);
  const everything = (await audit.log.store.search({})).map((r) => r.body).join("\n");
  assert.doesNotMatch(everything, /aHVudGVyMg==/);
});

test("both records are durable by the time the client has the whole answer", async () => {
  for (let i = 0; i < 20; i++) {
    const path = `/api/v1/namespaces/b/configmaps/n${i}`;
    await call("GET", path);
    // No waiting: the completion must already be in the store.
    const { completion } = await recordsOf(path);
    assert.equal(completion.status, 200);
  }
});
