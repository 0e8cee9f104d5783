import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { openTestAuditLog, type TestAuditLog } from "../../test/support/audit.ts";
import type { RequestRecord } from "../audit/record.ts";
import { parsePolicy } from "./load.ts";
import { simulate } from "./simulate.ts";

let audit: TestAuditLog;

function recorded(
  verb: string,
  method: string,
  path: string,
  decision: RequestRecord["decision"],
  extra: Partial<RequestRecord> = {},
): RequestRecord {
  const [, , , , namespace = "", resource = "", name = ""] = path.split("/");
  return {
    kind: "request",
    time: new Date().toISOString(),
    requestId: randomUUID(),
    identity: {
      subject: "bot",
      issuer: "portcullis",
      kind: "agent",
      username: "portcullis:agent:bot",
      groups: ["portcullis:agents"],
      method: "agent-token",
    },
    source: { address: "127.0.0.1" },
    session: { id: "s-1" },
    request: {
      method,
      path,
      verb,
      isResourceRequest: true,
      apiGroup: "",
      apiVersion: "v1",
      resource,
      subresource: "",
      namespace,
      name,
    },
    level: "RequestResponse",
    decision,
    ...extra,
  };
}

before(async () => {
  audit = await openTestAuditLog();
  const allow = { action: "allow" as const, rule: "default" };
  await audit.log.writer.record(recorded("get", "GET", "/api/v1/namespaces/a/configmaps/x", allow));
  await audit.log.writer.record(
    recorded("delete", "DELETE", "/api/v1/namespaces/a/configmaps/x", allow),
  );
  await audit.log.writer.record(
    recorded("create", "POST", "/api/v1/namespaces/a/configmaps", allow, {
      body: {
        contentType: "application/json",
        size: 10,
        sha256: "0".repeat(64),
        text: JSON.stringify({
          kind: "ConfigMap",
          metadata: { name: "big" },
          data: { a: "1", b: "2", c: "3" },
        }),
      },
    }),
  );
  await audit.log.writer.record(
    recorded("delete", "DELETE", "/api/v1/namespaces/p/configmaps/y", allow, {}),
  );
});

after(async () => {
  await audit?.close();
});

const candidate = parsePolicy(
  `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: candidate }
spec:
  defaultAction: allow
  rules:
    - id: c/no-deletes
      reason: no deletes by agents
      match: { verbs: [delete], identity: { kinds: [agent] } }
      action: deny
    - id: c/small-configmaps
      reason: at most two keys
      match: { verbs: [create], resources: [configmaps] }
      condition: "size(object.data) <= 2"
      action: allow
    - id: c/else-deny-large
      reason: large configmaps need approval
      match: { verbs: [create], resources: [configmaps] }
      action: approve
`,
  "candidate.yaml",
);

test("reports the calls whose decision would change, by rule and by agent", async () => {
  const report = await simulate(audit.log.store, candidate, {});
  assert.equal(report.calls, 4, JSON.stringify(report, null, 1));
  assert.equal(report.unchanged, 1, "the get stays allowed by default");
  const byRule = report.byRule;
  assert.equal(byRule["allow → deny (c/no-deletes)"], 2);
  assert.equal(byRule["allow → approve (c/else-deny-large)"], 1, JSON.stringify(byRule));
  assert.equal(report.byAgent["portcullis:agent:bot"], 3);
  assert.deepEqual(
    report.changed.map((c) => `${c.verb} ${c.name || "-"} ${c.would.rule}`),
    ["delete x c/no-deletes", "create - c/else-deny-large", "delete y c/no-deletes"],
  );
});

test("a time range limits the calls considered", async () => {
  const report = await simulate(audit.log.store, candidate, {
    from: new Date(Date.now() + 60_000).toISOString(),
  });
  assert.equal(report.calls, 0);
});
