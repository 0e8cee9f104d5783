/**
 * An agent's kubectl session through a real gateway to a real API server,
 * read back with the auditor's commands run as a separate process (the
 * gateway keeps the SQLite log open; WAL lets the CLI read beside it):
 * `sessions list` finds the one session, `sessions show` lists its commands
 * in order with their statuses, `audit search` finds the RBAC refusal, and
 * the `audit export --format eventlist` output passes a strict decode into
 * the real Kubernetes audit/v1 type.
 */
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CallView, SessionSummary, SessionTimeline } from "../../src/audit/query.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { buildAuditCheck, runAuditCheck } from "../support/auditcheck.ts";
import { bindRole, startTestGateway, type TestGateway } from "../support/gateway.ts";
import { runKubectl } from "../support/kubectl.ts";
import { type ProcessRun, runProcess } from "../support/process.ts";

const cli = resolve(import.meta.dirname, "../../bin/portcullis");

let cluster: ControlPlane;
let gw: TestGateway;

const { PORTCULLIS_CONFIG: _config, ...withoutConfig } = process.env;

/** Runs `portcullis …` against the gateway's data directory, on embedded defaults. */
function portcullis(args: string[]): Promise<ProcessRun> {
  return runProcess(cli, [...args, "--data-dir", gw.dataDir], { env: withoutConfig });
}

async function json<T>(args: string[]): Promise<T> {
  const result = await portcullis(args);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

const manifest = JSON.stringify({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "applied" },
  data: { value: "one" },
});

before(async () => {
  cluster = await startControlPlane();
  gw = await startTestGateway(cluster);
  // Built before any test's clock starts: the first build compiles apimachinery.
  await buildAuditCheck();
});

after(async () => {
  await gw?.close();
  await cluster?.stop();
});

describe("an agent's kubectl session in the audit log", () => {
  const agentName = "session-agent";
  let username: string;

  before(async () => {
    const ns = await cluster.createNamespace("audit-session");
    const agent = await gw.agent(agentName, { namespace: ns });
    username = agent.username;
    await bindRole(cluster, username, "edit", ns);
    const run = (args: string[], input?: string) =>
      runKubectl(cluster.binaries.kubectl, agent.kubeconfig, args, input ? { input } : {});
    for (const [args, input] of [
      [["create", "configmap", "alpha", "--from-literal=k=v"]],
      [["get", "configmap", "alpha", "-o", "json"]],
      [["apply", "-f", "-"], manifest],
      [["delete", "configmap", "alpha"]],
    ] as Array<[string[], string?]>) {
      const result = await run(args, input);
      assert.equal(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
    }
    // Outside its namespace RBAC says no: the API server answers 403 through the gateway.
    const refused = await run(["get", "nodes"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Forbidden|forbidden/);
  });

  test("sessions list shows one session for the agent with its commands", async () => {
    const sessions = await json<SessionSummary[]>([
      "sessions",
      "list",
      "--agent",
      agentName,
      "-o",
      "json",
    ]);
    assert.equal(sessions.length, 1, JSON.stringify(sessions));
    const [session] = sessions;
    assert.equal(session?.username, username);
    assert.equal(session?.kind, "agent");
    assert.equal(session?.invocations, 5);
    assert.deepEqual(session?.commands, [
      "kubectl create configmap",
      "kubectl get",
      "kubectl apply",
      "kubectl delete",
    ]);
    assert.ok((session?.refusals ?? 0) >= 1);
    const table = await portcullis(["sessions", "list"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`${session?.id}\\s+${username}\\s+agent`));
  });

  test("sessions show lists the commands in order with their statuses", async () => {
    const [session] = await json<SessionSummary[]>([
      "sessions",
      "list",
      "--agent",
      agentName,
      "-o",
      "json",
    ]);
    const id = session?.id ?? "";
    const timeline = await json<SessionTimeline>(["sessions", "show", id, "-o", "json"]);
    // Group the calls by kubectl invocation, in order.
    const invocations: Array<{ invocation: string; command: string; calls: CallView[] }> = [];
    for (const call of timeline.calls) {
      const last = invocations.at(-1);
      if (last?.invocation === call.invocation) last.calls.push(call);
      else invocations.push({ invocation: call.invocation, command: call.command, calls: [call] });
    }
    assert.deepEqual(
      invocations.map((i) => i.command),
      ["kubectl create configmap", "kubectl get", "kubectl apply", "kubectl delete", "kubectl get"],
    );
    const resourceCalls = (i: number) =>
      (invocations[i]?.calls ?? []).filter(
        (c) => c.resource === "configmaps" || c.resource === "nodes",
      );
    assert.deepEqual(
      resourceCalls(0).map((c) => [c.verb, c.name, c.status]),
      [["create", "", 201]],
    );
    assert.deepEqual(
      resourceCalls(1).map((c) => [c.verb, c.name, c.status]),
      [["get", "alpha", 200]],
    );
    // Client-side apply of a new object: a get that finds nothing, then a create.
    assert.deepEqual(
      resourceCalls(2).map((c) => [c.verb, c.name, c.status]),
      [
        ["get", "applied", 404],
        ["create", "", 201],
      ],
    );
    // kubectl delete then waits for the object to be gone: a get that finds nothing.
    assert.deepEqual(
      resourceCalls(3).map((c) => [c.verb, c.name, c.status]),
      [
        ["delete", "alpha", 200],
        ["get", "alpha", 404],
      ],
    );
    assert.deepEqual(
      resourceCalls(4).map((c) => [c.verb, c.resource, c.status]),
      [["list", "nodes", 403]],
    );
    assert.ok(timeline.calls.every((c) => c.decision === "allow" && c.status !== null));

    const text = await portcullis(["sessions", "show", id]);
    assert.equal(text.code, 0, text.stderr);
    const order = [
      "kubectl create configmap",
      "kubectl get",
      "kubectl apply",
      "kubectl delete",
    ].map((command) => text.stdout.indexOf(`  ${command}\n`));
    assert.ok(
      order.every((at, i) => at > 0 && (i === 0 || at > (order[i - 1] ?? 0))),
      text.stdout,
    );
    assert.match(text.stdout, /list\s+nodes\s+-\s+allow\s+403 completed/);
  });

  test("audit search finds the API server's 403", async () => {
    const calls = await json<CallView[]>([
      "audit",
      "search",
      "--agent",
      agentName,
      "--resource",
      "nodes",
      "-o",
      "json",
    ]);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.status, 403);
    assert.equal(calls[0]?.decision, "allow");
    const table = await portcullis(["audit", "search", "--agent", agentName, "--since", "1h"]);
    assert.match(table.stdout, /list\s+nodes\s+-\s+403\s+allow/);
  });

  test("the EventList export passes the strict Kubernetes schema check", async () => {
    const exported = await portcullis([
      "audit",
      "export",
      "--format",
      "eventlist",
      "--since",
      "1h",
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    const check = await runAuditCheck(exported.stdout);
    assert.equal(check.code, 0, check.stderr);
    const list = JSON.parse(exported.stdout) as {
      items: Array<{
        verb: string;
        objectRef?: { resource?: string };
        responseStatus?: { code: number };
      }>;
    };
    assert.equal(check.stdout.trim(), `ok ${list.items.length} events`);
    const nodes = list.items.find((e) => e.objectRef?.resource === "nodes");
    assert.equal(nodes?.responseStatus?.code, 403);
  });
});
