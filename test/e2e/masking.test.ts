/**
 * Masking proven end to end: realistic ConfigMaps, Secrets and pod specs
 * seeded by an administrator; an agent reads them through the gateway with
 * kubectl (get, -o yaml, -o json, -w, describe, custom columns), with
 * @kubernetes/client-node's watch, and with raw requests asking for
 * protobuf, CBOR or gzip. No seeded value comes back in clear; every decoy
 * comes back unchanged; the audit log says what was masked, never the value.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { KubeConfig, type V1ConfigMap, Watch } from "@kubernetes/client-node";
import { appendCriLog } from "../../src/cluster/cri-log.ts";
import { type Kwok, startKwok } from "../../src/cluster/kwok.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { decodeWithKubernetes } from "../support/cborcheck.ts";
import { bindRole, startTestGateway, type TestGateway } from "../support/gateway.ts";
import { rawRequest } from "../support/https.ts";
import { KubectlStream, runKubectl } from "../support/kubectl.ts";

/** Sensitive values, each valid for its detector. */
const seeded = {
  card: "4111 1111 1111 1111",
  mastercard: "5500-0000-0000-0004",
  iban: "GB82 WEST 1234 5698 7654 32",
  ssn: "536-22-8127",
  email: "jane.doe@example.com",
  aws: "AKIAQ3EGRA7OPAYMENT5",
  dbPassword: "Sup3r-S3cret-pw",
};

/** Look sensitive at a glance, are not: must come back unchanged. */
const decoys = {
  uuid: "4111a111-1111-4111-a111-111111111111",
  order: "4111111111111112", // fails Luhn
  ip: "10.244.17.201",
  digest: "sha256:4111111111111111411111111111111141111111111111114111111111111111",
  timestamp: "2026-11-28T10:31:23Z",
  version: "1.4111111111111111",
};

const clearValues = [
  seeded.card,
  seeded.mastercard,
  seeded.iban,
  "GB82WEST12345698765432",
  seeded.ssn,
  seeded.email,
  seeded.aws,
  seeded.dbPassword,
];

/** The card without separators, standing alone (the decoys hold it inside longer tokens). */
const bareCard = /(?<![\w.:])4111111111111111(?!\w)/;

function assertNoClearValue(text: string, what: string): void {
  for (const value of clearValues) {
    assert.ok(!text.includes(value), `${what} leaked ${value}:\n${text.slice(0, 2000)}`);
  }
  assert.doesNotMatch(text, bareCard, `${what} leaked the card number`);
}

function assertDecoysIntact(text: string, what: string): void {
  for (const value of Object.values(decoys)) {
    assert.ok(text.includes(value), `${what} changed the decoy ${value}:\n${text.slice(0, 2000)}`);
  }
}

let cluster: ControlPlane;
let kwok: Kwok;
let logDir: string;
let logFile: string;
let gw: TestGateway;
let ns: string;
let agent: { kubeconfig: string; token: string; username: string };

const run = (args: string[]) => runKubectl(cluster.binaries.kubectl, agent.kubeconfig, args);

const configMapData = {
  card: seeded.card,
  "billing.properties": `iban=${seeded.iban}\nowner.ssn=${seeded.ssn}\ncontact=${seeded.email}\n`,
  "db.url": `postgres://app:${seeded.dbPassword}@db.payments.svc:5432/ledger`,
  "aws.config": `[default]\naws_access_key_id = ${seeded.aws}\n`,
  backup: `secondary card ${seeded.mastercard}`,
  ...decoys,
};

before(async () => {
  cluster = await startControlPlane();
  gw = await startTestGateway(cluster);
  ns = await cluster.createNamespace("masked");
  logDir = await mkdtemp(join(tmpdir(), "portcullis-masking-logs-"));
  logFile = join(logDir, "ledger.log");
  await appendCriLog(
    logFile,
    [
      `${decoys.timestamp} INFO ledger starting, build ${decoys.digest}`,
      `${decoys.timestamp} WARN payment declined card=${seeded.card} order=${decoys.order}`,
      `${decoys.timestamp} INFO refund to ${seeded.iban} for ${seeded.email} from ${decoys.ip}`,
      `${decoys.timestamp} DEBUG connecting postgres://app:${seeded.dbPassword}@db:5432/ledger`,
      `${decoys.timestamp} INFO request ${decoys.uuid} done, version ${decoys.version}`,
      "",
    ].join("\n"),
  );
  kwok = await startKwok(cluster, { logs: [{ namespaces: [ns], file: logFile }] });
  agent = await gw.agent("masking-agent", { namespace: ns });
  await bindRole(cluster, agent.username, "cluster-admin");
  const objects = [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "payments", namespace: ns },
      data: configMapData,
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: ns },
      stringData: { password: seeded.dbPassword, card: seeded.card },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "ledger", namespace: ns },
      spec: {
        nodeName: kwok.nodeNames[0],
        containers: [
          {
            name: "app",
            image: `registry.example.com/ledger@${decoys.digest}`,
            env: [
              { name: "DB_PASSWORD", value: seeded.dbPassword },
              { name: "SETTLEMENT_IBAN", value: seeded.iban },
              { name: "ORDER_SEED", value: decoys.order },
              { name: "REGION", value: "eu-west-1" },
            ],
          },
        ],
      },
    },
  ];
  // Applied client-side, so the last-applied-configuration annotation holds
  // the whole object, sensitive values and all: it must be masked too.
  const applied = await cluster.kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
  });
  assert.equal(applied.code, 0, applied.stderr);
});

after(async () => {
  await gw?.close();
  await kwok?.stop();
  await cluster?.stop();
  if (logDir) await rm(logDir, { recursive: true, force: true });
});

describe("kubectl through the gateway never shows a seeded value", () => {
  test("get -o json: values masked with their shape, decoys and known fields unchanged", async () => {
    const result = await run(["get", "configmap", "payments", "-o", "json"]);
    assert.equal(result.code, 0, result.stderr);
    assertNoClearValue(result.stdout, "get -o json");
    assertDecoysIntact(result.stdout, "get -o json");
    const cm = JSON.parse(result.stdout) as V1ConfigMap;
    assert.equal(cm.data?.card, "**** **** **** 1111");
    assert.equal(cm.data?.backup, "secondary card ****-****-****-0004");
    assert.match(
      cm.data?.["db.url"] ?? "",
      /^postgres:\/\/app:\*+@db\.payments\.svc:5432\/ledger$/,
    );
    assert.match(cm.metadata?.resourceVersion ?? "", /^\d+$/);
    assert.match(cm.metadata?.uid ?? "", /^[0-9a-f-]{36}$/);
    const lastApplied =
      cm.metadata?.annotations?.["kubectl.kubernetes.io/last-applied-configuration"];
    assert.ok(lastApplied?.includes("**** **** **** 1111"), "last-applied is masked, not dropped");
  });

  test("get -o yaml, describe and custom columns", async () => {
    for (const args of [
      ["get", "configmap", "payments", "-o", "yaml"],
      ["describe", "configmap", "payments"],
      ["get", "configmap", "payments", "-o", "custom-columns=CARD:.data.card,ORDER:.data.order"],
      ["get", "configmaps", "-o", "json"],
    ]) {
      const result = await run(args);
      assert.equal(result.code, 0, result.stderr);
      assertNoClearValue(result.stdout, args.join(" "));
    }
    const columns = await run([
      "get",
      "configmap",
      "payments",
      "-o",
      "custom-columns=CARD:.data.card,ORDER:.data.order",
    ]);
    assert.match(columns.stdout, /\*\*\*\* \*\*\*\* \*\*\*\* 1111\s+4111111111111112/);
  });

  test("the default table (`kubectl get`, Table responses) and get -w", async () => {
    const table = await run(["get", "configmaps,pods,secrets"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /payments/);
    const watch = new KubectlStream(cluster.binaries.kubectl, agent.kubeconfig, [
      "get",
      "configmaps",
      "-w",
      "-o",
      "json",
    ]);
    try {
      await watch.waitFor('"name": "payments"');
      const changed = await cluster.kubectl([
        "create",
        "configmap",
        "watched",
        "-n",
        ns,
        `--from-literal=card=${seeded.mastercard}`,
        `--from-literal=order=${decoys.order}`,
      ]);
      assert.equal(changed.code, 0, changed.stderr);
      await watch.waitFor('"name": "watched"');
      await watch.waitFor(decoys.order);
      assertNoClearValue(watch.stdout, "get -w");
      assert.match(watch.stdout, /\*\*\*\*-\*\*\*\*-\*\*\*\*-0004/);
    } finally {
      watch.stop();
      await watch.exited;
    }
  });

  test("pod env values: by the variable's name and by the value's shape", async () => {
    const result = await run(["get", "pod", "ledger", "-o", "json"]);
    assert.equal(result.code, 0, result.stderr);
    assertNoClearValue(result.stdout, "get pod");
    const env = (
      JSON.parse(result.stdout) as {
        spec: { containers: Array<{ env: Array<{ name: string; value: string }>; image: string }> };
      }
    ).spec.containers[0];
    const value = (name: string) => env?.env.find((e) => e.name === name)?.value;
    assert.notEqual(value("DB_PASSWORD"), seeded.dbPassword);
    assert.match(value("SETTLEMENT_IBAN") ?? "", /^GB\*\*/);
    assert.equal(value("ORDER_SEED"), decoys.order);
    assert.equal(value("REGION"), "eu-west-1");
    assert.equal(env?.image, `registry.example.com/ledger@${decoys.digest}`);
  });

  test("Secrets are read through the secrets profile: every value masked whole, still base64", async () => {
    const result = await run(["get", "secret", "db", "-o", "json"]);
    assert.equal(result.code, 0, result.stderr);
    const secret = JSON.parse(result.stdout) as { data: Record<string, string> };
    for (const [key, value] of Object.entries(secret.data)) {
      assert.equal(Buffer.from(value, "base64").toString(), "[secret-data]", key);
    }
    assertNoClearValue(result.stdout, "get secret");
    assert.ok(!result.stdout.includes(Buffer.from(seeded.dbPassword).toString("base64")));
    const described = await run(["describe", "secret", "db"]);
    assert.equal(described.code, 0, described.stderr);
    assertNoClearValue(described.stdout, "describe secret");
  });
});

describe("pod logs", () => {
  test("kubectl logs: seeded values masked, decoys unchanged", async () => {
    const running = await cluster.kubectl([
      "wait",
      "-n",
      ns,
      "pod/ledger",
      "--for=jsonpath={.status.phase}=Running",
      "--timeout=30s",
    ]);
    assert.equal(running.code, 0, running.stderr);
    const logs = await run(["logs", "ledger"]);
    assert.equal(logs.code, 0, logs.stderr);
    assertNoClearValue(logs.stdout, "kubectl logs");
    assertDecoysIntact(logs.stdout, "kubectl logs");
    assert.match(logs.stdout, /card=\*\*\*\* \*\*\*\* \*\*\*\* 1111 order=4111111111111112/);
  });

  test("kubectl logs -f masks lines as they arrive", async () => {
    const follow = new KubectlStream(cluster.binaries.kubectl, agent.kubeconfig, [
      "logs",
      "-f",
      "ledger",
    ]);
    try {
      await follow.waitFor("ledger starting");
      await appendCriLog(logFile, `late payment card ${seeded.mastercard} ssn ${seeded.ssn}\n`);
      await follow.waitFor(" ssn ");
      assertNoClearValue(follow.stdout, "kubectl logs -f");
      assert.match(follow.stdout, /late payment card \*\*\*\*-\*\*\*\*-\*\*\*\*-0004/);
    } finally {
      follow.stop();
      await follow.exited;
    }
  });
});

describe("any client, any encoding", () => {
  const path = () => `/api/v1/namespaces/${ns}/configmaps/payments`;
  const auth = () => ({ authorization: `Bearer ${agent.token}` });

  test("@kubernetes/client-node's watch receives masked objects", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(agent.kubeconfig);
    const seen: V1ConfigMap[] = [];
    let done: () => void;
    const gotIt = new Promise<void>((resolve) => {
      done = resolve;
    });
    const watcher = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      {},
      (_type: string, object: V1ConfigMap) => {
        seen.push(object);
        if (object.metadata?.name === "payments") done();
      },
      () => {},
    );
    try {
      await gotIt;
    } finally {
      watcher.abort();
    }
    const payments = seen.find((cm) => cm.metadata?.name === "payments");
    assert.equal(payments?.data?.card, "**** **** **** 1111");
    assertNoClearValue(JSON.stringify(seen), "client-node watch");
    assertDecoysIntact(JSON.stringify(payments), "client-node watch");
  });

  test("a client preferring protobuf gets masked JSON; one accepting only protobuf is refused", async () => {
    const mixed = await rawRequest(gw.url, gw.caPem, {
      path: path(),
      headers: { ...auth(), accept: "application/vnd.kubernetes.protobuf,application/json" },
    });
    assert.equal(mixed.status, 200, mixed.body);
    assert.match(String(mixed.headers["content-type"]), /^application\/json/);
    assertNoClearValue(mixed.body, "protobuf-preferring client");
    assertDecoysIntact(mixed.body, "protobuf-preferring client");

    const only = await rawRequest(gw.url, gw.caPem, {
      path: path(),
      headers: { ...auth(), accept: "application/vnd.kubernetes.protobuf" },
    });
    assert.equal(only.status, 406, only.body);
    const status = JSON.parse(only.body) as { kind: string; reason: string; message: string };
    assert.equal(status.kind, "Status");
    assert.equal(status.reason, "NotAcceptable");
    assert.match(status.message, /application\/json/);
  });

  test("a client asking for gzip gets a masked, readable answer", async () => {
    const res = await rawRequest(gw.url, gw.caPem, {
      path: path(),
      headers: { ...auth(), accept: "application/json", "accept-encoding": "gzip" },
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers["content-encoding"], undefined);
    assertNoClearValue(res.body, "gzip client");
    assert.equal((JSON.parse(res.body) as V1ConfigMap).data?.card, "**** **** **** 1111");
  });

  test("a client asking only for CBOR gets masked CBOR that Kubernetes' own decoder reads", async () => {
    const res = await rawRequest(gw.url, gw.caPem, {
      path: path(),
      headers: { ...auth(), accept: "application/cbor" },
    });
    assert.equal(res.status, 200, res.body);
    assert.match(String(res.headers["content-type"]), /^application\/cbor/);
    const cm = (await decodeWithKubernetes(res.bytes)) as V1ConfigMap;
    assert.equal(cm.data?.card, "**** **** **** 1111");
    assertNoClearValue(JSON.stringify(cm), "CBOR client");
    assertDecoysIntact(JSON.stringify(cm), "CBOR client");
  });
});

describe("the audit log", () => {
  test("records detector, field path and count for a masked answer, never the value", async () => {
    const rows = await gw.audit.store.search({ kind: "completion", limit: 5000 });
    const masked = rows
      .map(
        (r) =>
          JSON.parse(r.body) as {
            masked?: Array<{ detector: string; path: string; count: number }>;
          },
      )
      .flatMap((r) => r.masked ?? []);
    assert.ok(
      masked.some((m) => m.detector === "card" && m.path === "ConfigMap.data.card" && m.count >= 1),
      JSON.stringify(masked.slice(0, 20)),
    );
    assert.ok(
      masked.some((m) => m.detector === "secret-data" && m.path.startsWith("Secret.data.")),
    );
    const everything = rows.map((r) => r.body).join("\n");
    assertNoClearValue(everything, "the audit log");
  });

  test("the request record names the masking profile the decision chose", async () => {
    const rows = await gw.audit.store.search({ kind: "request", resource: "secrets", limit: 100 });
    const decisions = rows.map(
      (r) =>
        (JSON.parse(r.body) as { decision: { rule: string; maskingProfile?: string } }).decision,
    );
    assert.ok(
      decisions.some((d) => d.rule === "baseline/secrets-masked" && d.maskingProfile === "secrets"),
      JSON.stringify(decisions),
    );
  });
});
