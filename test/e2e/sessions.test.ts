/**
 * exec through the gateway, terminated on both sides: kubectl works as
 * against the API server, stdout is masked like any answer to an agent, and
 * the session's asciicast recording, holding what the client saw, is in the
 * call's completion record.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Exec, KubeConfig, type V1Status } from "@kubernetes/client-node";
import type { BodyRef, CompletionRecord } from "../../src/audit/record.ts";
import { type Kwok, startKwok } from "../../src/cluster/kwok.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { parseAsciicast } from "../../src/sessions/recording/parse.ts";
import {
  bindRole,
  completionsWhen as completionsWhenWritten,
  startTestGateway,
  type TestGateway,
} from "../support/gateway.ts";
import { KubectlStream, runKubectl } from "../support/kubectl.ts";
import { runningPod } from "../support/kwok.ts";
import { writePolicyFile } from "../support/policy.ts";
import { runProcess } from "../support/process.ts";

const cli = resolve(import.meta.dirname, "../../bin/portcullis");
const { PORTCULLIS_CONFIG: _config, ...env } = process.env;

const CARD = "4111 1111 1111 1111";

let cluster: ControlPlane;
let kwok: Kwok;
let gw: TestGateway;
let ns: string;
let workDir: string;
let kubeconfig: string;
let approver: { kubeconfig: string; username: string };

const exec = (args: string[], input?: string) =>
  runKubectl(cluster.binaries.kubectl, kubeconfig, ["exec", "-n", ns, "shell", ...args], {
    ...(input === undefined ? {} : { input }),
    timeoutMs: 30_000,
  });

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  ns = await cluster.createNamespace("sessions");
  workDir = await mkdtemp(join(tmpdir(), "portcullis-sessions-"));
  kwok = await startKwok(cluster, {
    exec: [{ namespaces: [ns], workDir, env: { PAYMENT_CARD: CARD, REGION: "eu-west-1" } }],
  });
  await runningPod(cluster, kwok, ns, "shell");
  const policyFile = join(workDir, "policy.yaml");
  await writePolicyFile(policyFile, "team", [
    "  defaultAction: allow",
    "  agents:",
    "    - name: operator",
    "      allow:",
    "        - { verbs: [get, list, watch, create], resources: [pods, pods/exec, configmaps] }",
    "  rules:",
    "    - id: team/no-rm-rf",
    "      reason: nobody types rm -rf into a session",
    "      match: { resources: [pods/exec] }",
    "      condition: request.exec.typed && request.exec.line.contains('rm -rf')",
    "      action: deny",
    "    - id: team/approve-sh-s",
    "      reason: a shell reading commands from stdin needs approval",
    "      match: { resources: [pods/exec] }",
    "      condition: request.exec.command == ['sh', '-s']",
    "      action: approve",
    "      approval: { mode: retry, timeout: 5m }",
    "    - id: team/no-recursive-rm",
    "      reason: nobody runs rm -r in a pod through the gateway",
    "      match: { resources: [pods/exec] }",
    "      condition: request.exec.command.size() > 1 && request.exec.command[0] == 'rm' && request.exec.command[1].matches('^-[a-zA-Z]*[rR]')",
    "      action: deny",
    "    - id: team/hold-shells",
    "      reason: an interactive shell waits for a person's approval",
    "      match: { resources: [pods/exec] }",
    "      condition: request.exec.stdin && (request.exec.tty || request.exec.command == ['sh', '-i'])",
    "      action: approve",
    "      approval: { mode: hold, timeout: 2m }",
  ]);
  gw = await startTestGateway(cluster, { policy: { files: [policyFile] } });
  const agent = await gw.agent("operator");
  kubeconfig = agent.kubeconfig;
  await bindRole(cluster, agent.username, "cluster-admin");
  approver = await gw.agent("shell-approver", { groups: ["portcullis:approvers"] });
});

/** The CLI as the approver. */
function portcullis(args: string[]) {
  return runProcess(cli, [...args, "--kubeconfig", approver.kubeconfig], { env });
}

/** Polls `what` every 100 ms until it returns a value, for up to 20 s. */
async function eventually<T>(what: () => Promise<T | undefined>, describeWait: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = await what();
    if (found !== undefined) return found;
    assert.ok(Date.now() < deadline, `timed out waiting for ${describeWait}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

after(async () => {
  await gw?.close();
  await kwok?.stop();
  await cluster?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Completion records once `ready` holds for them (they follow a stream's close). */
const completionsWhen = (ready: (records: CompletionRecord[]) => boolean) =>
  completionsWhenWritten(gw, ready);

/** The completion records of exec calls, newest last, with their recordings. */
async function recordings(): Promise<
  Array<{ requestId: string; status: number; recording?: BodyRef }>
> {
  const rows = await gw.audit.store.search({ kind: "completion", limit: 5000 });
  return rows
    .map((r) => JSON.parse(r.body) as { requestId: string; status: number; recording?: BodyRef })
    .filter((r) => r.recording !== undefined);
}

describe("exec through the gateway", () => {
  test("kubectl exec runs the command and prints its output", async () => {
    const hi = await exec(["--", "echo", "hi"]);
    assert.equal(hi.code, 0, hi.stderr);
    assert.equal(hi.stdout, "hi\n");
  });

  test("stdin reaches the command and its echo comes back", async () => {
    const cat = await exec(["-i", "--", "cat"], "hello through the gateway\n");
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, "hello through the gateway\n");
  });

  test("`env` with a card number in it comes back masked; the rest unchanged", async () => {
    const env = await exec(["--", "env"]);
    assert.equal(env.code, 0, env.stderr);
    assert.ok(!env.stdout.includes(CARD), env.stdout);
    assert.match(env.stdout, /PAYMENT_CARD=\*\*\*\* \*\*\*\* \*\*\*\* 1111/);
    assert.match(env.stdout, /REGION=eu-west-1/);
  });

  test("a command a rule denies is refused with the rule's reason, and does not run", async () => {
    const victim = join(workDir, "keep-me");
    await writeFile(victim, "still here\n");
    const refused = await exec(["--", "rm", "-rf", victim]);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /portcullis: rule team\/no-recursive-rm: nobody runs rm -r in a pod through the gateway/,
    );
    assert.equal(await readFile(victim, "utf8"), "still here\n");
  });

  test("a command's exit code reaches kubectl", async () => {
    const failed = await exec(["--", "sh", "-c", "echo partial; exit 3"]);
    assert.equal(failed.code, 3, failed.stderr);
    assert.equal(failed.stdout, "partial\n");
  });

  test("each session's recording is in its completion record: what the client saw, verifiable", async () => {
    await completionsWhen((all) => all.filter((r) => r.recording).length >= 4);
    const recorded = await recordings();
    assert.ok(recorded.length >= 4, `recordings: ${recorded.length}`);
    const texts = recorded.map((r) => r.recording?.text ?? "");
    for (const [i, text] of texts.entries()) {
      const parsed = parseAsciicast(text);
      assert.equal(parsed.sha256, recorded[i]?.recording?.sha256);
      assert.equal(parsed.header.version, 2);
    }
    const all = texts.join("\n");
    assert.ok(!all.includes(CARD), "the recording holds the masked output");
    const withInput = texts
      .map((t) => parseAsciicast(t))
      .find((r) => r.events.some((e) => e.code === "i"));
    assert.ok(withInput, `typed input is recorded:\n${texts.join("\n---\n")}`);
    assert.ok(
      withInput.events.some(
        (e) => e.code === "o" && String(e.data).includes("hello through the gateway"),
      ),
    );
  });

  test("sessions play reproduces what the client saw", async () => {
    const [first] = await recordings();
    assert.ok(first);
    const played = await runProcess(
      cli,
      ["sessions", "play", first.requestId, "--speed", "1000", "--data-dir", gw.dataDir],
      { env },
    );
    assert.equal(played.code, 0, played.stderr);
    assert.equal(played.stdout, "hi\n");
  });

  test("a typed line a rule refuses is not delivered and ends the session, on record", async () => {
    const marker = join(workDir, "must-survive");
    await writeFile(marker, "x");
    const shell = await exec(["-i", "--", "sh"], `echo before\nrm -rf ${marker}\necho after\n`);
    assert.notEqual(shell.code, 0);
    assert.match(
      shell.stderr,
      /portcullis: rule team\/no-rm-rf: nobody types rm -rf into a session; the session is ended/,
    );
    assert.ok(!shell.stdout.includes("after"), shell.stdout);
    assert.equal(await readFile(marker, "utf8"), "x", "the refused command never ran");
    const records = await completionsWhen((all) => all.some((r) => r.sessionEnded !== undefined));
    const ended = records.find((r) => r.sessionEnded !== undefined);
    assert.match(ended?.sessionEnded ?? "", /team\/no-rm-rf/);
  });

  test("sessions kill ends an open exec and a user's watches at once, on record", async () => {
    const approver = await gw.agent("kill-approver", { groups: ["portcullis:approvers"] });
    const portcullisAs = (args: string[]) =>
      runProcess(cli, [...args, "--kubeconfig", approver.kubeconfig], { env });
    const sleeper = new KubectlStream(cluster.binaries.kubectl, kubeconfig, [
      ...["exec", "-n", ns, "shell", "--", "sleep", "60"],
    ]);
    const watcher = new KubectlStream(cluster.binaries.kubectl, kubeconfig, [
      ...["get", "configmaps", "-n", ns, "-w", "-o", "name"],
    ]);
    try {
      let open: Array<{ requestId: string; kind: string }> = [];
      const deadline = Date.now() + 20_000;
      while (!(open.some((c) => c.kind === "exec") && open.some((c) => c.kind === "watch"))) {
        assert.ok(Date.now() < deadline, `not open: ${JSON.stringify(open)}`);
        await new Promise((r) => setTimeout(r, 100));
        const listed = await portcullisAs(["sessions", "live", "-o", "json"]);
        assert.equal(listed.code, 0, listed.stderr);
        open = JSON.parse(listed.stdout);
      }
      const exec = open.find((c) => c.kind === "exec");
      const killed = await portcullisAs([
        "sessions",
        "kill",
        exec?.requestId ?? "",
        "--reason",
        "runaway",
      ]);
      assert.equal(killed.code, 0, killed.stderr);
      assert.notEqual(await sleeper.exited, 0);
      assert.match(sleeper.stderr, /ended by portcullis:agent:kill-approver: runaway/);
      const all = await portcullisAs([
        ...["sessions", "kill", "--user", "portcullis:agent:operator", "--reason", "revoked"],
      ]);
      assert.equal(all.code, 0, all.stderr);
      await watcher.exited;
      const records = await completionsWhen((all) =>
        all.some((r) => r.requestId === exec?.requestId && r.sessionEnded !== undefined),
      );
      const ended = records.filter((r) => r.sessionEnded?.includes("ended by"));
      assert.ok(ended.some((r) => r.requestId === exec?.requestId));
      assert.ok(ended.some((r) => r.sessionEnded?.includes("revoked")));
    } finally {
      sleeper.stop();
      watcher.stop();
    }
  });

  test("revoking an agent's token ends its open watches at once", async () => {
    const bot = await gw.agent("watcher-bot");
    await bindRole(cluster, bot.username, "cluster-admin");
    const watcher = new KubectlStream(cluster.binaries.kubectl, bot.kubeconfig, [
      ...["get", "pods", "-n", ns, "-w", "-o", "name"],
    ]);
    try {
      await watcher.waitFor("pod/shell");
      const revoked = await runProcess(
        cli,
        ["agents", "revoke", "watcher-bot", "--data-dir", gw.dataDir],
        {
          env,
        },
      );
      assert.equal(revoked.code, 0, revoked.stderr);
      await watcher.exited;
      const rows = await gw.audit.store.search({ kind: "completion", limit: 5000 });
      assert.ok(
        rows.some((r) =>
          (JSON.parse(r.body) as { sessionEnded?: string }).sessionEnded?.includes(
            "token was revoked",
          ),
        ),
      );
    } finally {
      watcher.stop();
    }
  });

  test("@kubernetes/client-node's exec works unchanged through the gateway, masked", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    let stdout = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        stdout += chunk.toString();
        done();
      },
    });
    const status = await new Promise<V1Status>((resolveStatus, reject) => {
      new Exec(kc)
        .exec(
          ns,
          "shell",
          "app",
          ["sh", "-c", "echo from client-node; env"],
          sink,
          null,
          null,
          false,
          resolveStatus,
        )
        .catch(reject);
    });
    assert.equal(status.status, "Success", JSON.stringify(status));
    assert.match(stdout, /^from client-node\n/);
    assert.match(stdout, /PAYMENT_CARD=\*\*\*\* \*\*\*\* \*\*\*\* 1111/);
    assert.ok(!stdout.includes(CARD));
  });

  test("an approved session's own lines are not held for approval again", async () => {
    const approver = await gw.agent("sh-approver", { groups: ["portcullis:approvers"] });
    const first = await exec(["-i", "--", "sh", "-s"], "echo one\necho two\n");
    assert.notEqual(first.code, 0);
    const id = /Approval (apr-[0-9a-f]{16}) is requested/.exec(first.stderr)?.[1];
    assert.ok(id, first.stderr);
    const approved = await runProcess(
      cli,
      ["approvals", "approve", id, "--reason", "maintenance", "--kubeconfig", approver.kubeconfig],
      { env },
    );
    assert.equal(approved.code, 0, approved.stderr);
    const retried = await exec(["-i", "--", "sh", "-s"], "echo one\necho two\n");
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout, "one\ntwo\n");
  });
});

describe("shells under approval, grants and uninspectable streams", () => {
  test("an interactive shell waits for approval (hold mode), then runs what it is given", async () => {
    const shell = exec(["-i", "--", "sh", "-i"], "echo held-then-approved\n");
    const approval = await eventually(async () => {
      const listed = await portcullis(["approvals", "list", "-o", "json"]);
      assert.equal(listed.code, 0, listed.stderr);
      return (
        JSON.parse(listed.stdout) as Array<{ id: string; state: string; rule: { id: string } }>
      ).find((a) => a.rule.id === "team/hold-shells" && a.state === "pending");
    }, "the shell's approval request");
    const approved = await portcullis([
      "approvals",
      "approve",
      approval.id,
      "--reason",
      "INC-7 triage",
    ]);
    assert.equal(approved.code, 0, approved.stderr);
    const done = await shell;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, "held-then-approved\n");
  });

  test("revoking the grant that let a shell through ends it at once, on record", async () => {
    const created = await portcullis([
      ...["grants", "create", "--subject", "portcullis:agent:operator"],
      ...["--verbs", "get,create", "--resources", "pods/exec", "--namespaces", ns],
      // The core group is the default (--api-groups "").
      ...["--for", "15m", "--reason", "CHG-7 shell access"],
    ]);
    assert.equal(created.code, 0, created.stderr);
    const grantId = /grant (grt-[0-9a-f]{16})/.exec(created.stdout)?.[1];
    assert.ok(grantId, created.stdout);
    // No approval is asked: the grant covers the shell. It stays open (stdin never ends).
    const shell = new KubectlStream(cluster.binaries.kubectl, kubeconfig, [
      ...["exec", "-i", "-n", ns, "shell", "--", "sh", "-i"],
    ]);
    try {
      const live = await eventually(async () => {
        const listed = await portcullis(["sessions", "live", "-o", "json"]);
        assert.equal(listed.code, 0, listed.stderr);
        return (
          JSON.parse(listed.stdout) as Array<{ requestId: string; kind: string; grant?: string }>
        ).find((c) => c.kind === "exec" && c.grant === grantId);
      }, "the shell to be open through the grant");
      const revoked = await portcullis(["grants", "revoke", grantId, "--reason", "change closed"]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.notEqual(await shell.exited, 0);
      assert.match(
        shell.stderr,
        /grant grt-[0-9a-f]{16} was revoked by portcullis:agent:shell-approver: change closed/,
      );
      const records = await completionsWhen((all) =>
        all.some((r) => r.requestId === live.requestId && r.sessionEnded !== undefined),
      );
      const ended = records.find((r) => r.requestId === live.requestId);
      assert.match(ended?.sessionEnded ?? "", /was revoked/);
    } finally {
      shell.stop();
    }
  });

  test("exec over SPDY (an old client) is refused with how to fix it", async () => {
    const old = await runProcess(
      cluster.binaries.kubectl,
      ["--kubeconfig", kubeconfig, "exec", "-n", ns, "shell", "--", "echo", "hi"],
      { env: { ...env, KUBECTL_REMOTE_COMMAND_WEBSOCKETS: "false" }, timeoutMs: 30_000 },
    );
    assert.notEqual(old.code, 0);
    assert.match(
      old.stderr,
      /cannot be inspected \(exec over SPDY\/3\.1\).*kubectl 1\.30 or later/,
    );
    assert.doesNotMatch(old.stdout, /hi/);
  });
});

describe("a rule that lets uninspectable streams through", () => {
  let open: TestGateway;
  let legacy: string;
  before(async () => {
    const policyFile = join(workDir, "unrecorded.yaml");
    await writePolicyFile(policyFile, "legacy", [
      "  defaultAction: deny",
      "  rules:",
      "    - id: legacy/old-tooling",
      "      reason: the legacy runner's kubectl 1.28 may exec unrecorded until INC-12 is closed",
      "      match: { identity: { subjects: [legacy-runner] } }",
      "      action: allow",
      "      streams: { unrecorded: allow }",
    ]);
    // Without the baseline: no masking profile, which an unrecorded stream could not honour.
    open = await startTestGateway(cluster, { policy: { files: [policyFile], baseline: false } });
    const agent = await open.agent("legacy-runner");
    legacy = agent.kubeconfig;
    await bindRole(cluster, agent.username, "cluster-admin");
  });
  after(async () => {
    await open?.close();
  });

  test("SPDY exec passes byte for byte, and the records say it was unrecorded and why", async () => {
    const old = await runProcess(
      cluster.binaries.kubectl,
      ["--kubeconfig", legacy, "exec", "-n", ns, "shell", "--", "echo", "through-spdy"],
      { env: { ...env, KUBECTL_REMOTE_COMMAND_WEBSOCKETS: "false" }, timeoutMs: 30_000 },
    );
    assert.equal(old.code, 0, old.stderr);
    assert.equal(old.stdout, "through-spdy\n");
    const rows = await open.audit.store.search({ limit: 5000 });
    const records = rows.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    const request = records.find(
      (r) =>
        r.kind === "request" &&
        (r.request as { subresource?: string }).subresource === "exec" &&
        (r.decision as { unrecordedStreams?: boolean }).unrecordedStreams === true,
    );
    assert.ok(request, "the request record names the choice");
    assert.equal((request.decision as { rule: string }).rule, "legacy/old-tooling");
    const mine = (r: CompletionRecord) => r.requestId === request.requestId;
    const completion = (await completionsWhenWritten(open, (all) => all.some(mine))).find(mine);
    assert.ok(completion, "the SPDY exec's completion record");
    assert.deepEqual(completion.stream, { protocol: "exec over SPDY/3.1", unrecorded: true });
    assert.equal(completion.recording, undefined);
  });
});
