import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encode as encodeWithTextStrings } from "cbor2";
import {
  checkWithKubernetes,
  decodeWatchWithKubernetes,
  decodeWithKubernetes,
  encodeWatchWithKubernetes,
  encodeWithKubernetes,
  hasGo,
} from "../../test/support/cborcheck.ts";
import { encodeCbor, encodeWatchEvent, NotJsonError } from "./cbor.ts";

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** The hex of a byte string holding `text`'s UTF-8, short (< 24 bytes) as in these tests. */
function bytesHex(text: string): string {
  const utf8 = Buffer.from(text, "utf8");
  assert.ok(utf8.length < 24);
  return (0x40 + utf8.length).toString(16) + utf8.toString("hex");
}

describe("encodeCbor", () => {
  test("encloses the item in the self-described CBOR tag", () => {
    assert.equal(hex(encodeCbor(null)), "d9d9f7f6");
  });

  test("writes strings and map keys as byte strings of their UTF-8", () => {
    assert.equal(
      hex(encodeCbor({ kind: "Secret" })),
      `d9d9f7a1${bytesHex("kind")}${bytesHex("Secret")}`,
    );
    assert.equal(hex(encodeCbor("é")), "d9d9f742c3a9");
  });

  test("sorts keys as their encodings sort: shorter first, then bytewise", () => {
    const encoded = encodeCbor({ bb: 1, é: 2, a: 3, ab: 4, B: 5 });
    const order = ["B", "a", "ab", "bb", "é"].map((key) => bytesHex(key));
    let at = 0;
    for (const key of order) {
      const found = hex(encoded).indexOf(key, at);
      assert.ok(found > at, `${key} out of order in ${hex(encoded)}`);
      at = found;
    }
  });

  test("writes null, booleans, arrays and an empty map", () => {
    assert.equal(hex(encodeCbor([true, false, null, [], {}])), "d9d9f785f5f4f680a0");
  });

  const numbers: [string, number | bigint, string][] = [
    ["zero", 0, "00"],
    ["-0 as the integer 0", -0, "00"],
    ["23 in the head", 23, "17"],
    ["24 in one byte", 24, "1818"],
    ["-1", -1, "20"],
    ["-25", -25, "3818"],
    ["65536 in four bytes", 65536, "1a00010000"],
    ["2^32 in eight bytes", 2 ** 32, "1b0000000100000000"],
    ["2^53 + 2, past the safe range, still an integer", 2 ** 53 + 2, "1b0020000000000002"],
    ["the int64 maximum, as a bigint", 2n ** 63n - 1n, "1b7fffffffffffffff"],
    ["the int64 minimum", -(2n ** 63n), "3b7fffffffffffffff"],
    ["1.5 as a half float", 1.5, "f93e00"],
    ["2^-24, a subnormal half float", 2 ** -24, "f90001"],
    ["100000.5 as a single float", 100000.5, "fa47c35040"],
    ["0.1 as a double", 0.1, "fb3fb999999999999a"],
    ["2^63, past int64, as a float", 2 ** 63, "fa5f000000"],
    ["2^64 as a bigint, past int64, as a float", 2n ** 64n, "fa5f800000"],
  ];
  for (const [what, value, expected] of numbers) {
    test(`writes ${what}`, () => {
      assert.equal(hex(encodeCbor(value)), `d9d9f7${expected}`);
    });
  }

  const notJson: [string, unknown][] = [
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["undefined", { a: undefined }],
    ["a Date", { at: new Date(0) }],
    ["a Map", new Map()],
    ["a Uint8Array", { data: new Uint8Array(2) }],
    ["a function", [() => 1]],
    ["a symbol", Symbol.for("x")],
    ["an integer beyond float64", 10n ** 400n],
  ];
  for (const [what, value] of notJson) {
    test(`refuses ${what}`, () => {
      assert.throws(() => encodeCbor(value), NotJsonError);
    });
  }

  test("names where the refused value is", () => {
    assert.throws(
      () => encodeCbor({ items: [{ metadata: { at: new Date(0) } }] }),
      /a Date object at \.items\[0\]\.metadata\.at/,
    );
  });

  test("refuses a cycle instead of overflowing the stack", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => encodeCbor(cyclic), /nesting deeper than 1000/);
  });
});

describe("encodeWatchEvent", () => {
  test("is a tagged {type, object} map whose object is tagged on its own", () => {
    const event = encodeWatchEvent({ type: "ADDED", object: { kind: "ConfigMap" } });
    assert.equal(
      hex(event),
      "d9d9f7a2" +
        `${bytesHex("type")}${bytesHex("ADDED")}` +
        `${bytesHex("object")}d9d9f7a1${bytesHex("kind")}${bytesHex("ConfigMap")}`,
    );
  });

  test("refuses an event type Kubernetes does not have", () => {
    assert.throws(
      () => encodeWatchEvent({ type: "UPDATED" as "ADDED", object: {} }),
      /watch event type "UPDATED"/,
    );
  });
});

const metadata = {
  name: "app-config",
  namespace: "default",
  uid: "5b1c3c2e-0d5e-4f5e-9a53-2b1f1b1d1c1a",
  resourceVersion: "4711",
  creationTimestamp: "2026-01-01T00:00:00Z",
  labels: { "app.kubernetes.io/name": "app" },
  annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}\n" },
  managedFields: [
    {
      manager: "kubectl-client-side-apply",
      operation: "Update",
      apiVersion: "v1",
      time: "2026-01-01T00:00:00Z",
      fieldsType: "FieldsV1",
      fieldsV1: { "f:data": { ".": {}, "f:password": {} } },
    },
  ],
};
const configMap = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata,
  data: { password: "[secret]", 日本: "語", "😀": "", long: "x".repeat(300) },
};
const secret = {
  apiVersion: "v1",
  kind: "Secret",
  type: "Opaque",
  metadata: { ...metadata, name: "app-secret" },
  data: { password: "c2VjcmV0", token: "" },
};

/** Fixtures as JSON text, the way the API server sends them. */
const fixtures: Record<string, string> = {
  ConfigMap: JSON.stringify(configMap),
  Secret: JSON.stringify(secret),
  ConfigMapList: JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMapList",
    metadata: { resourceVersion: "4712", continue: "" },
    items: [configMap, { ...configMap, metadata: { ...metadata, name: "second" } }],
  }),
  Table: JSON.stringify({
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: "4712" },
    columnDefinitions: [
      {
        name: "Name",
        type: "string",
        format: "name",
        description: "Name must be unique.",
        priority: 0,
      },
      { name: "Data", type: "integer", format: "", description: "Number of entries.", priority: 0 },
      { name: "Age", type: "string", format: "", description: "Creation time.", priority: 0 },
    ],
    rows: [
      {
        cells: ["app-config", 4, "5m"],
        object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata },
      },
    ],
  }),
  Status: JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: 'configmaps "x" not found',
    reason: "NotFound",
    details: { name: "x", kind: "configmaps" },
    code: 404,
  }),
  // A custom resource: no typed decode, numbers of every width.
  Widget: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{
    "ints":[0,-1,23,24,255,256,65535,65536,4294967296,-4294967297,9007199254740994,-9223372036854775808],
    "floats":[1.5,0.1,-2.25,1e300,5.960464477539063e-8,1.401298464324817e-45,3.4028234663852886e38,1e21,9223372036854775808],
    "empty":{},"none":[],"nothing":null,"yes":true,"${"k".repeat(24)}":"${"v".repeat(70000)}",
    "broken":"\\ud800"}}`,
};

describe("as Kubernetes reads it", { skip: !hasGo() && "no Go toolchain" }, () => {
  for (const [name, json] of Object.entries(fixtures)) {
    test(`a ${name} is byte for byte what kube-apiserver writes`, async () => {
      const ours = encodeCbor(JSON.parse(json));
      assert.equal(hex(ours), hex(await encodeWithKubernetes(json)));
    });
  }

  for (const name of ["ConfigMap", "Secret", "ConfigMapList", "Table", "Status"]) {
    test(`a ${name} decodes strictly, untyped and typed, to the same object`, async () => {
      const value = JSON.parse(fixtures[name] as string);
      assert.deepEqual(await decodeWithKubernetes(encodeCbor(value)), value);
    });
  }

  test("a watch stream decodes event by event, as client-go's watch does", async () => {
    const events = [
      { type: "ADDED", object: configMap },
      { type: "MODIFIED", object: secret },
      {
        type: "BOOKMARK",
        object: { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: "9" } },
      },
      { type: "DELETED", object: configMap },
      { type: "ERROR", object: JSON.parse(fixtures.Status as string) },
    ] as const;
    const stream = Buffer.concat(events.map((event) => encodeWatchEvent(event)));
    assert.deepEqual(await decodeWatchWithKubernetes(stream), events);
  });

  test("a watch stream is byte for byte what kube-apiserver's watch encoder writes", async () => {
    const events = [
      { type: "ADDED", object: configMap },
      { type: "DELETED", object: secret },
    ] as const;
    const ours = Buffer.concat(events.map((event) => encodeWatchEvent(event)));
    assert.equal(hex(ours), hex(await encodeWatchWithKubernetes(events)));
  });

  test("text strings, cbor2's default, would break a typed client's Secret", async () => {
    const textStrings = Buffer.concat([
      Buffer.from("d9d9f7", "hex"),
      encodeWithTextStrings(secret),
    ]);
    const run = await checkWithKubernetes(textStrings);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /cannot unmarshal UTF-8 text string into Go struct field v1\.Secret\.data/,
    );
  });

  test("a truncated item is refused", async () => {
    const run = await checkWithKubernetes(encodeCbor(configMap).subarray(0, 40));
    assert.equal(run.code, 1);
  });
});
