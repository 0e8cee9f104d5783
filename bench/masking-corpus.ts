/**
 * Seeded Kubernetes-shaped corpora for the masking benchmarks: LIST bodies
 * of ConfigMaps, Secrets and Pods as the API server writes them, and pod log
 * text. Mostly what real clusters hold (names, UUIDs, timestamps, IPs,
 * digests, config files, base64); about one value in a hundred is sensitive.
 */
import { seededRandom } from "../test/support/random.ts";

export type CorpusKind = "configmaps" | "secrets" | "pods";

export function corpusGenerator(seed: number) {
  const rand = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");
  const hex = (n: number) =>
    Array.from({ length: n }, () => "0123456789abcdef"[Math.floor(rand() * 16)]).join("");
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  const ip = () =>
    `10.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}`;
  const time = () =>
    `2026-11-${10 + Math.floor(rand() * 18)}T0${Math.floor(rand() * 9)}:37:${digits(2)}Z`;
  const word = () =>
    pick(["payments", "ledger", "gateway", "api", "worker", "cache", "batch", "report", "auth"]);
  const sensitive = () =>
    pick([
      "4111 1111 1111 1111",
      "5500-0000-0000-0004",
      "GB82 WEST 1234 5698 7654 32",
      "536-22-8127",
      "jane.doe@example.com",
      "postgres://app:Sup3rS3cret@db:5432/pay",
      "AKIAIOSFODNN7EXAMPLE",
    ]);
  const configText = () => {
    const lines: string[] = [];
    for (let i = 4 + Math.floor(rand() * 12); i > 0; i--) {
      lines.push(
        pick([
          `${word()}.timeout=${Math.floor(rand() * 60)}s`,
          `${word()}.endpoint=https://${word()}.svc.cluster.local:${8000 + Math.floor(rand() * 999)}`,
          `log.level=${pick(["info", "debug", "warn"])}`,
          `${word()}.replicas=${Math.floor(rand() * 9)}`,
          `# build ${hex(40)}`,
          `order.id=${digits(16)}`,
        ]),
      );
    }
    if (rand() < 0.05) lines.push(`contact=${sensitive()}`);
    return `${lines.join("\n")}\n`;
  };
  const metadata = (ns: string, name: string) => ({
    name,
    namespace: ns,
    uid: uuid(),
    resourceVersion: digits(7),
    creationTimestamp: time(),
    labels: { app: word(), "app.kubernetes.io/part-of": word() },
    annotations: { "example.com/owner": `team-${word()}` },
    managedFields: [
      {
        manager: "kubectl-client-side-apply",
        operation: "Update",
        apiVersion: "v1",
        time: time(),
        fieldsType: "FieldsV1",
        fieldsV1: { "f:data": { ".": {}, "f:app.properties": {} } },
      },
    ],
  });
  const b64 = (s: string) => Buffer.from(s).toString("base64");

  const items: Record<CorpusKind, (i: number) => unknown> = {
    configmaps: (i) => ({
      metadata: metadata(`ns-${i % 40}`, `${word()}-config-${i}`),
      data: {
        "app.properties": configText(),
        "feature.flags": JSON.stringify({ a: rand() < 0.5, b: uuid(), c: ip() }),
        region: pick(["eu-west-1", "us-east-1"]),
        ...(rand() < 0.02 ? { contact: sensitive() } : {}),
      },
    }),
    secrets: (i) => ({
      metadata: metadata(`ns-${i % 40}`, `${word()}-secret-${i}`),
      data: {
        "tls.crt": b64(
          `-----BEGIN CERTIFICATE-----\n${b64(hex(600))}\n-----END CERTIFICATE-----\n`,
        ),
        username: b64(`svc-${word()}`),
        token: b64(hex(40)),
        ...(rand() < 0.05 ? { card: b64(sensitive()) } : {}),
      },
      type: "Opaque",
    }),
    pods: (i) => ({
      metadata: metadata(`ns-${i % 40}`, `${word()}-${hex(10)}-${hex(5)}`),
      spec: {
        containers: [
          {
            name: word(),
            image: `registry.example.com/${word()}@sha256:${hex(64)}`,
            args: ["--port=8080", `--log-level=${pick(["info", "debug"])}`],
            env: [
              { name: "REGION", value: pick(["eu-west-1", "us-east-1"]) },
              { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              { name: "DB_HOST", value: `${word()}.db.svc` },
              ...(rand() < 0.05 ? [{ name: "CONTACT", value: sensitive() }] : []),
            ],
            resources: { requests: { cpu: "100m", memory: "128Mi" } },
          },
        ],
        nodeName: `node-${Math.floor(rand() * 20)}`,
      },
      status: {
        phase: "Running",
        podIP: ip(),
        hostIP: ip(),
        startTime: time(),
        conditions: [{ type: "Ready", status: "True", lastTransitionTime: time() }],
        containerStatuses: [
          {
            name: word(),
            ready: true,
            restartCount: 0,
            imageID: `registry.example.com/app@sha256:${hex(64)}`,
            containerID: `containerd://${hex(64)}`,
            state: { running: { startedAt: time() } },
          },
        ],
      },
    }),
  };

  const listKind: Record<CorpusKind, string> = {
    configmaps: "ConfigMapList",
    secrets: "SecretList",
    pods: "PodList",
  };

  /** A LIST body of about `bytes` bytes, as the API server writes it. */
  function listBody(kind: CorpusKind, bytes: number): Buffer {
    const parts: string[] = [];
    let size = 0;
    for (let i = 0; size < bytes; i++) {
      const item = JSON.stringify(items[kind](i));
      parts.push(item);
      size += item.length + 1;
    }
    const head = `{"kind":"${listKind[kind]}","apiVersion":"v1","metadata":{"resourceVersion":"${digits(7)}"},"items":[`;
    return Buffer.from(`${head}${parts.join(",")}]}\n`);
  }

  /** Pod log text of about `bytes` bytes. */
  function logText(bytes: number): Buffer {
    const lines: string[] = [];
    let size = 0;
    while (size < bytes) {
      const line =
        rand() < 0.01
          ? `${time()} WARN payment rejected for ${sensitive()} request=${uuid()}`
          : pick([
              `${time()} INFO GET /api/v1/${word()}/${uuid()} 200 ${Math.floor(rand() * 900)}ms from ${ip()}`,
              `${time()} DEBUG cache ${word()} hit ratio=0.${digits(3)} size=${digits(5)}`,
              `${time()} INFO order ${digits(16)} settled amount=${digits(3)}.${digits(2)} EUR`,
              `${time()} ERROR upstream ${word()}.svc:8080 connect: connection refused (attempt ${Math.floor(rand() * 9)})`,
            ]);
      lines.push(line);
      size += line.length + 1;
    }
    return Buffer.from(`${lines.join("\n")}\n`);
  }

  return { listBody, logText };
}
