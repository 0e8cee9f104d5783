import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "../../../test/support/random.ts";
import { financialDetectors } from "../detectors/financial.ts";
import { credentialDetectors, piiDetectors } from "../detectors/secrets-pii.ts";
import { MaskingEngine } from "../engine.ts";
import { compileFieldRule, type FieldRuleSpec } from "../field-rules.ts";
import { JsonRewriter, LAST_APPLIED, RewriteError, type RewriterOptions } from "./rewriter.ts";

const engine = new MaskingEngine({
  detectors: [...financialDetectors, ...credentialDetectors, ...piiDetectors],
});

const CARD = "4111 1111 1111 1111";
const CARD_PLAIN = "4111111111111111";
const ORDER = "4111111111111112"; // fails Luhn
const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

interface Run {
  out: string;
  masked: Array<[string, string]>;
}

function options(extra: Partial<RewriterOptions> = {}, masked: Array<[string, string]> = []) {
  return {
    engine,
    secretData: "scan" as const,
    onMasked: (detector: string, path: string) => masked.push([detector, path]),
    ...extra,
  };
}

/** Rewrites `input` fed in chunks of `size` bytes. */
function run(input: string, extra: Partial<RewriterOptions> = {}, size = 0): Run {
  const masked: Array<[string, string]> = [];
  const rewriter = new JsonRewriter(options(extra, masked));
  const bytes = Buffer.from(input);
  const parts: Buffer[] = [];
  const step = size > 0 ? size : bytes.length || 1;
  for (let i = 0; i < bytes.length; i += step)
    parts.push(rewriter.push(bytes.subarray(i, i + step)));
  parts.push(rewriter.end());
  return { out: Buffer.concat(parts).toString("utf8"), masked };
}

const rules = (...specs: Array<Partial<FieldRuleSpec>>) =>
  specs.map((s) => compileFieldRule({ style: "full", ...s } as FieldRuleSpec));

const configMap = {
  kind: "ConfigMap",
  apiVersion: "v1",
  metadata: {
    name: "payments-config",
    namespace: "payments",
    uid: "0f0a3c1e-6b6a-4c47-9a55-4f3b7d7a1d2e",
    resourceVersion: "4111111111111111",
    creationTimestamp: "2026-11-28T10:31:23Z",
    annotations: { "example.com/note": `customer card ${CARD}` },
    managedFields: [
      {
        manager: "kubectl",
        operation: "Update",
        time: "2026-11-28T10:31:23Z",
        fieldsType: "FieldsV1",
        fieldsV1: { "f:data": { "f:card": {} } },
      },
    ],
  },
  data: {
    card: CARD,
    order: `order ${ORDER} shipped`,
    ip: "10.244.1.17",
    digest: "sha256:4111111111111111411111111111111141111111111111114111111111111111",
    uuid: "4111a111-1111-4111-a111-111111111111",
    "app.properties": `db.url=postgres://app:Sup3rS3cret@db:5432/pay\nssn=536-22-8127\n`,
  },
};

describe("JsonRewriter on Kubernetes shapes", () => {
  it("masks ConfigMap data values and leaves known fields and decoys alone", () => {
    const { out, masked } = run(JSON.stringify(configMap));
    const got = JSON.parse(out);
    assert.equal(got.data.card, "**** **** **** 1111");
    assert.equal(got.data.order, configMap.data.order);
    assert.equal(got.data.ip, configMap.data.ip);
    assert.equal(got.data.digest, configMap.data.digest);
    assert.equal(got.data.uuid, configMap.data.uuid);
    assert.doesNotMatch(got.data["app.properties"], /Sup3rS3cret|536-22-8127/);
    assert.match(got.data["app.properties"], /^db\.url=postgres:\/\/app:/);
    assert.equal(got.metadata.resourceVersion, "4111111111111111");
    assert.equal(got.metadata.uid, configMap.metadata.uid);
    assert.deepEqual(got.metadata.managedFields, configMap.metadata.managedFields);
    assert.equal(got.metadata.annotations["example.com/note"], "customer card **** **** **** 1111");
    assert.deepEqual(Object.keys(got.data), Object.keys(configMap.data));
    const paths = masked.map(([d, p]) => `${d} ${p}`);
    assert.ok(paths.includes("card ConfigMap.data.card"), paths.join(", "));
    assert.ok(paths.includes("card ConfigMap.metadata.annotations.example.com/note"));
    assert.ok(paths.some((p) => p.startsWith("ssn ConfigMap.data.app.properties")));
  });

  it("decodes Secret data, masks inside, and re-encodes as base64", () => {
    const secret = {
      kind: "Secret",
      apiVersion: "v1",
      metadata: { name: "cards", namespace: "payments" },
      data: { pan: b64(CARD_PLAIN), note: b64("nothing to see"), empty: "" },
      type: "Opaque",
    };
    const { out, masked } = run(JSON.stringify(secret));
    const got = JSON.parse(out);
    assert.equal(unb64(got.data.pan), "************1111");
    assert.equal(got.data.note, secret.data.note);
    assert.equal(got.data.empty, "");
    assert.deepEqual(masked, [["card", "Secret.data.pan"]]);
  });

  it("masks every Secret value whole in `mask` mode, still as valid base64", () => {
    const secret = { kind: "Secret", data: { a: b64("plain"), b: b64(CARD) } };
    const got = JSON.parse(run(JSON.stringify(secret), { secretData: "mask" }).out);
    assert.equal(unb64(got.data.a), "[secret-data]");
    assert.equal(unb64(got.data.b), "[secret-data]");
  });

  it("masks binary Secret values whole: they cannot be scanned", () => {
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x99]).toString("base64");
    const got = JSON.parse(run(JSON.stringify({ kind: "Secret", data: { k: binary } })).out);
    assert.equal(unb64(got.data.k), "[secret-binary]");
  });

  it("takes list items' kind from the list (items carry no kind)", () => {
    const list = {
      kind: "SecretList",
      apiVersion: "v1",
      metadata: { resourceVersion: "100" },
      items: [
        { metadata: { name: "a" }, data: { pan: b64(CARD) } },
        { metadata: { name: "b" }, data: { plain: b64("ok") } },
      ],
    };
    const { out, masked } = run(JSON.stringify(list));
    const got = JSON.parse(out);
    assert.equal(unb64(got.items[0].data.pan), "**** **** **** 1111");
    assert.equal(got.items[1].data.plain, list.items[1]?.data.plain);
    assert.deepEqual(masked, [["card", "Secret.data.pan"]]);
  });

  it("uses the request's kind for a top-level object that names none", () => {
    const got = JSON.parse(
      run(JSON.stringify({ data: { pan: b64(CARD) } }), { kindHint: "Secret" }).out,
    );
    assert.equal(unb64(got.data.pan), "**** **** **** 1111");
  });

  it("masks Table cells and row objects", () => {
    const table = {
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      columnDefinitions: [{ name: "Name", type: "string" }],
      rows: [
        {
          cells: ["cm", `card ${CARD}`, 3],
          object: { kind: "ConfigMap", metadata: { name: "cm" }, data: { x: CARD } },
        },
      ],
    };
    const got = JSON.parse(run(JSON.stringify(table)).out);
    assert.deepEqual(got.rows[0].cells, ["cm", "card **** **** **** 1111", 3]);
    assert.equal(got.rows[0].object.data.x, "**** **** **** 1111");
  });

  it("masks a watch stream, one event after another, whatever the chunking", () => {
    const events = [
      {
        type: "ADDED",
        object: { kind: "Secret", metadata: { name: "s" }, data: { p: b64(CARD) } },
      },
      { type: "MODIFIED", object: { kind: "ConfigMap", data: { c: CARD } } },
      { type: "BOOKMARK", object: { kind: "ConfigMap", metadata: { resourceVersion: "12" } } },
    ];
    const input = events.map((e) => `${JSON.stringify(e)}\n`).join("");
    const whole = run(input).out;
    for (const size of [1, 2, 3, 7, 64]) assert.equal(run(input, {}, size).out, whole);
    const lines = whole
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(unb64(lines[0].object.data.p), "**** **** **** 1111");
    assert.equal(lines[1].object.data.c, "**** **** **** 1111");
    assert.deepEqual(lines[2], events[2]);
  });

  it("scans env values with the variable's name as context and applies env rules", () => {
    const pod = {
      kind: "Pod",
      metadata: { name: "p" },
      spec: {
        containers: [
          {
            name: "app",
            image: "registry.example.com/app@sha256:4111111111111111",
            env: [
              { name: "DB_PASSWORD", value: "hunter2hunter2" },
              { name: "CARD", value: CARD },
              { name: "REGION", value: "eu-west-1" },
              { name: "FROM_SECRET", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
            ],
          },
        ],
      },
    };
    const { out, masked } = run(JSON.stringify(pod), {
      fieldRules: rules({ envName: "*password*" }),
    });
    const got = JSON.parse(out);
    const env = got.spec.containers[0].env;
    assert.equal(env[0].value, "[field:env:*password*]");
    assert.equal(env[1].value, "**** **** **** 1111");
    assert.equal(env[2].value, "eu-west-1");
    assert.deepEqual(env[3], pod.spec.containers[0]?.env[3]);
    assert.equal(got.spec.containers[0].image, pod.spec.containers[0]?.image);
    assert.deepEqual(masked, [
      ["field:env:*password*", "Pod.spec.containers[].env[DB_PASSWORD]"],
      ["card", "Pod.spec.containers[].env[CARD]"],
    ]);
  });

  it("applies path and annotation field rules, by kind", () => {
    const cm = {
      kind: "ConfigMap",
      metadata: { name: "x", annotations: { "vault.example.com/token": "abc" } },
      data: { a: "one", b: "two" },
    };
    const got = JSON.parse(
      run(JSON.stringify(cm), {
        fieldRules: rules(
          { kind: "ConfigMap", path: "data.b", style: "full" },
          { kind: "Secret", path: "data.a" },
          { annotation: "vault.example.com/*" },
        ),
      }).out,
    );
    assert.equal(got.data.a, "one");
    assert.equal(got.data.b, "[field:ConfigMap.data.b]");
    assert.equal(
      got.metadata.annotations["vault.example.com/token"],
      "[field:annotation:vault.example.com/*]",
    );
  });

  it("rewrites the last-applied-configuration annotation as the object it holds", () => {
    const inner = {
      kind: "Secret",
      apiVersion: "v1",
      stringData: { pan: CARD },
      data: { p: b64(CARD) },
    };
    const obj = {
      kind: "Secret",
      metadata: { name: "s", annotations: { [LAST_APPLIED]: `${JSON.stringify(inner)}\n` } },
    };
    const got = JSON.parse(run(JSON.stringify(obj)).out);
    const applied = JSON.parse(got.metadata.annotations[LAST_APPLIED]);
    assert.equal(applied.stringData.pan, "**** **** **** 1111");
    assert.equal(unb64(applied.data.p), "**** **** **** 1111");
  });

  it("masks a card number written as a JSON number, keeps other numbers", () => {
    const got = JSON.parse(
      run(JSON.stringify({ kind: "Payment", spec: { pan: 4111111111111111, amount: 12.5 } }), {})
        .out,
    );
    assert.equal(got.spec.pan, "************1111");
    assert.equal(got.spec.amount, 12.5);
  });

  it("keeps escapes, unicode and whitespace byte for byte when nothing is masked", () => {
    const input =
      '{ "a" : "x\\"y\\\\", "b":[1, -2.5e3 ,true,null,false], "ü":"日本\\u00e9", "c":{}}';
    for (const size of [0, 1, 2, 5]) assert.equal(run(input, {}, size).out, input);
  });

  it("finds values behind escapes: a newline escape does not glue text to a card", () => {
    const got = JSON.parse(
      run(JSON.stringify({ kind: "ConfigMap", data: { f: `x\n${CARD}\n` } })).out,
    );
    assert.equal(got.data.f, "x\n**** **** **** 1111\n");
  });

  it("masks a long string split across many chunks", () => {
    const long = `${"a".repeat(100_000)} ${CARD} ${"b".repeat(100_000)}`;
    const got = JSON.parse(
      run(JSON.stringify({ kind: "ConfigMap", data: { f: long } }), {}, 4096).out,
    );
    assert.equal(got.data.f.length, long.length);
    assert.ok(got.data.f.includes("**** **** **** 1111"));
  });

  it("refuses invalid JSON with a RewriteError", () => {
    for (const bad of ['{"a":}', '{"a" "b"}', "[1,]", '{"a":1', '"abc', "tru", "{]", "01"]) {
      assert.throws(() => run(bad), RewriteError, bad);
    }
  });

  it("refuses a string larger than the token bound", () => {
    const input = JSON.stringify({ a: "x".repeat(5000) });
    assert.throws(() => run(input, { maxTokenBytes: 1000 }, 100), /larger than 1000/);
  });
});

/** A random JSON value shaped like Kubernetes objects, with or without secrets. */
function randomValue(rand: () => number, depth: number, secrets: boolean): unknown {
  const r = rand();
  const words = ["alpha", "10.0.0.1", "2026-01-01T00:00:00Z", "日本", 'q"uo\\te', "a\nb", "x/y"];
  if (depth > 4 || r < 0.4) {
    const pick = Math.floor(rand() * 6);
    if (pick === 0) return Math.floor(rand() * 1e6);
    if (pick === 1) return rand() < 0.5;
    if (pick === 2) return null;
    if (secrets && pick === 3) return `card ${CARD}`;
    return words[Math.floor(rand() * words.length)];
  }
  if (r < 0.7) {
    return Array.from({ length: Math.floor(rand() * 4) }, () =>
      randomValue(rand, depth + 1, secrets),
    );
  }
  const obj: Record<string, unknown> = {};
  const keys = ["kind", "metadata", "data", "env", "name", "value", "items", "object", "spec"];
  for (let i = Math.floor(rand() * 5); i > 0; i--) {
    const key = keys[Math.floor(rand() * keys.length)] as string;
    obj[key] =
      key === "kind"
        ? ["ConfigMap", "Secret", "Pod"][i % 3]
        : randomValue(rand, depth + 1, secrets);
  }
  return obj;
}

/** Same structure and order, strings allowed to differ only where `CARD` was. */
function sameShape(a: unknown, b: unknown): boolean {
  if (typeof a === "string" && typeof b === "string") return a === b || a.includes(CARD);
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameShape(v, b[i]));
  }
  if (a !== null && typeof a === "object") {
    if (b === null || typeof b !== "object" || Array.isArray(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        (k, i) =>
          k === kb[i] &&
          sameShape((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return a === b;
}

describe("JsonRewriter properties", () => {
  it("leaves JSON without sensitive values byte for byte unchanged, however it is chunked", () => {
    const rand = seededRandom(7);
    for (let i = 0; i < 300; i++) {
      const input = JSON.stringify(randomValue(rand, 0, false), null, i % 2 === 0 ? undefined : 1);
      assert.equal(run(input, {}, 1 + Math.floor(rand() * 40)).out, input);
    }
  });

  it("emits valid JSON of the same shape, with no card left, for inputs that hold cards", () => {
    const rand = seededRandom(11);
    for (let i = 0; i < 300; i++) {
      const value = randomValue(rand, 0, true);
      const input = JSON.stringify(value);
      const { out } = run(input, {}, 1 + Math.floor(rand() * 40));
      assert.ok(!out.includes(CARD), out);
      assert.ok(sameShape(value, JSON.parse(out)), `${input}\n${out}`);
    }
  });

  it("never fails with anything but a RewriteError on mutated input", () => {
    const rand = seededRandom(13);
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(JSON.stringify(randomValue(rand, 0, true)));
      for (let m = 1 + Math.floor(rand() * 3); m > 0; m--) {
        bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      }
      try {
        run(bytes.toString("latin1"), {}, 1 + Math.floor(rand() * 16));
      } catch (err) {
        assert.ok(err instanceof RewriteError, String(err));
      }
    }
  });
});
