/**
 * For the notify tests: sample approval and grant views, and a real HTTP
 * receiver on 127.0.0.1 whose answers a test scripts one request at a time.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ApprovalRequest, Grant } from "../types.ts";

export function sampleApproval(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: "apr-7f3k2a9c0d1e2f30",
    createdAt: "2025-06-01T10:00:00.000Z",
    expiresAt: "2025-06-01T10:10:00.000Z",
    requestId: "req-0001",
    replica: "gw-1",
    mode: "hold",
    requester: {
      username: "portcullis:agent:deploy-bot",
      subject: "deploy-bot",
      kind: "agent",
      groups: ["portcullis:agents"],
      sessionId: "ses_91ac",
      command: "kubectl delete",
    },
    call: {
      method: "DELETE",
      path: "/apis/apps/v1/namespaces/payments/deployments/api",
      verb: "delete",
      apiGroup: "apps",
      resource: "deployments",
      subresource: "",
      namespace: "payments",
      name: "api",
    },
    bodySha256: "",
    rule: { id: "baseline/prod-deletes", reason: "deleting in production needs a second person" },
    approvers: { groups: ["sre"], required: 1 },
    effect: { secretData: "must-not-leave" },
    state: "pending",
    decisions: [],
    ...overrides,
  };
}

export const sampleEffect = "would delete Deployment payments/api (3 replicas, image api:1.42)";

export function sampleGrant(overrides: Partial<Grant> = {}): Grant {
  return {
    id: "grt-52hd00aa11bb22cc",
    createdAt: "2025-06-01T10:00:00.000Z",
    expiresAt: "2025-06-01T10:15:00.000Z",
    grantedBy: "alice@example.com",
    reason: "rollout of payments 1.43",
    subject: "portcullis:agent:deploy-bot",
    scope: {
      verbs: ["delete"],
      apiGroups: ["apps"],
      resources: ["deployments"],
      namespaces: ["payments"],
    },
    ...overrides,
  };
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with the n-th request (0-based): answer, or never answer. */
export type Script = (request: ReceivedRequest, n: number, res: ServerResponse) => void;

export interface Receiver {
  url: string;
  received: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startReceiver(script: Script): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(request);
      script(request, received.length - 1, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export function answer(res: ServerResponse, status: number, body = ""): void {
  res.writeHead(status, { "content-type": "text/plain" }).end(body);
}
