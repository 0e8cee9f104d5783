import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatMediaRange, parseAccept, parseMediaType } from "./media-type.ts";

describe("parseAccept", () => {
  test("keeps kubectl get's Table alternatives, their parameters and their order", () => {
    const ranges = parseAccept(
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
    );
    assert.deepEqual(
      ranges.map((r) => [r.type, r.subtype, r.params, r.q, r.index]),
      [
        [
          "application",
          "json",
          [
            ["as", "Table"],
            ["v", "v1"],
            ["g", "meta.k8s.io"],
          ],
          1,
          0,
        ],
        [
          "application",
          "json",
          [
            ["as", "Table"],
            ["v", "v1beta1"],
            ["g", "meta.k8s.io"],
          ],
          1,
          1,
        ],
        ["application", "json", [], 1, 2],
      ],
    );
  });

  test("takes q out of the parameters as the weight", () => {
    const [json, cbor] = parseAccept("application/json;q=0.9,application/cbor;q=1");
    assert.equal(json?.q, 0.9);
    assert.deepEqual(json?.params, []);
    assert.equal(cbor?.q, 1);
  });

  test("lower-cases type, subtype and parameter names but not parameter values", () => {
    const [range] = parseAccept("Application/JSON; AS=Table ;V=v1;G=meta.k8s.io");
    assert.equal(range?.type, "application");
    assert.equal(range?.subtype, "json");
    assert.deepEqual(range?.params, [
      ["as", "Table"],
      ["v", "v1"],
      ["g", "meta.k8s.io"],
    ]);
  });

  test("reads quoted parameter values, commas and escapes included", () => {
    const ranges = parseAccept('text/plain;note="a, \\"b\\"";q=0.5, application/json');
    assert.equal(ranges.length, 2);
    assert.deepEqual(ranges[0]?.params, [["note", 'a, "b"']]);
    assert.equal(ranges[0]?.q, 0.5);
  });

  const malformed: [string, string][] = [
    ["no slash", "json"],
    ["a subtype wildcard under a type wildcard", "*/json"],
    ["a q above 1", "application/json;q=2"],
    ["a q with four decimals", "application/json;q=0.1234"],
    ["a q that is not a number", "application/json;q=high"],
    ["a parameter without a value", "application/json;as"],
    ["a space inside the type", "appli cation/json"],
  ];
  for (const [name, element] of malformed) {
    test(`skips an element with ${name}, keeping the rest`, () => {
      const ranges = parseAccept(`${element}, application/cbor`);
      assert.deepEqual(
        ranges.map((r) => `${r.type}/${r.subtype}`),
        ["application/cbor"],
      );
      assert.equal(ranges[0]?.index, 1);
    });
  }

  test("an unterminated quoted value runs to the end and drops what follows", () => {
    const ranges = parseAccept('application/cbor, application/json;as="Table, */*');
    assert.deepEqual(
      ranges.map((r) => `${r.type}/${r.subtype}`),
      ["application/cbor"],
    );
  });

  test("ignores empty list elements", () => {
    assert.equal(parseAccept(" , application/json,,").length, 1);
  });
});

describe("parseMediaType", () => {
  test("reads a Content-Type with parameters", () => {
    assert.deepEqual(parseMediaType("application/json;stream=watch"), {
      type: "application",
      subtype: "json",
      params: [["stream", "watch"]],
    });
  });

  test("refuses wildcards, missing and malformed values", () => {
    assert.equal(parseMediaType("*/*"), null);
    assert.equal(parseMediaType("application/*"), null);
    assert.equal(parseMediaType(undefined), null);
    assert.equal(parseMediaType("json"), null);
  });
});

describe("formatMediaRange", () => {
  test("writes parameters as given and q last, only below 1", () => {
    const params: [string, string][] = [
      ["as", "Table"],
      ["g", "meta.k8s.io"],
    ];
    const range = { type: "application", subtype: "json", params };
    assert.equal(
      formatMediaRange({ ...range, q: 0.5 }),
      "application/json;as=Table;g=meta.k8s.io;q=0.5",
    );
    assert.equal(formatMediaRange({ ...range, q: 1 }), "application/json;as=Table;g=meta.k8s.io");
  });

  test("quotes a value that is not a token", () => {
    const range = {
      type: "text",
      subtype: "plain",
      params: [["note", 'a, "b"']] as [string, string][],
    };
    assert.equal(formatMediaRange(range), 'text/plain;note="a, \\"b\\""');
    assert.deepEqual(parseAccept(formatMediaRange(range))[0]?.params, range.params);
  });
});
