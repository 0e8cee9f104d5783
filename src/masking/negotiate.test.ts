import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { answerContentType, isWatchStream, negotiate, responseKind } from "./negotiate.ts";

const kubectlGet =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const metadataList =
  "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

describe("negotiate", () => {
  // [what, client Accept, upstream Accept, answer]
  const served: [string, string | undefined, string, "json" | "cbor"][] = [
    ["kubectl get keeps its Table alternatives, in order", kubectlGet, kubectlGet, "json"],
    ["kubectl -o json", "application/json", "application/json", "json"],
    ["a REST client's JSON-or-anything", "application/json, */*", "application/json", "json"],
    [
      "a typed clientset's protobuf is dropped for its JSON",
      "application/vnd.kubernetes.protobuf,application/json",
      "application/json",
      "json",
    ],
    [
      "the metadata client's protobuf is dropped, its JSON alternatives kept",
      metadataList,
      "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
      "json",
    ],
    [
      "discovery keeps the aggregated form",
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
      "json",
    ],
    [
      "the dynamic client with CBOR allowed gets JSON, which it also accepts",
      "application/json;q=0.9,application/cbor;q=1",
      "application/json;q=0.9",
      "json",
    ],
    ["CBOR preferred over anything gets JSON", "application/cbor, */*", "application/json", "json"],
    [
      "a CBOR-only client gets CBOR, asked upstream as JSON",
      "application/cbor",
      "application/json",
      "cbor",
    ],
    [
      "CBOR alternatives keep their parameters upstream",
      "application/cbor;as=Table;v=v1;g=meta.k8s.io,application/cbor",
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
      "cbor",
    ],
    [
      "a CBOR Table is not asked for when the answer is JSON",
      "application/cbor;as=Table;v=v1;g=meta.k8s.io,application/json",
      "application/json",
      "json",
    ],
    ["no Accept header", undefined, "application/json", "json"],
    ["an empty Accept header", "  ", "application/json", "json"],
    ["*/*", "*/*", "application/json", "json"],
    ["application/*", "application/*;q=0.8", "application/json;q=0.8", "json"],
    [
      "YAML with JSON as well",
      "application/yaml,application/json;q=0.5",
      "application/json;q=0.5",
      "json",
    ],
    [
      "JSON at q=0 is not acceptable",
      "application/json;q=0,application/cbor",
      "application/json",
      "cbor",
    ],
    [
      "duplicates collapse to the first place at the best weight",
      "application/json;q=0.2,*/*;q=0.7,application/json;as=Table;v=v1;g=meta.k8s.io",
      "application/json;q=0.7,application/json;as=Table;v=v1;g=meta.k8s.io",
      "json",
    ],
    [
      "stream=watch is kept",
      "application/json;stream=watch",
      "application/json;stream=watch",
      "json",
    ],
    [
      "case and spacing are normalised",
      "Application/JSON ; as=Table ; v=v1 ; g=meta.k8s.io",
      "application/json;as=Table;v=v1;g=meta.k8s.io",
      "json",
    ],
  ];
  for (const [what, accept, upstreamAccept, answer] of served) {
    test(what, () => {
      assert.deepEqual(negotiate(accept), {
        upstreamAccept,
        upstreamAcceptEncoding: "identity",
        answer,
      });
    });
  }

  const refused: [string, string, RegExp][] = [
    [
      "protobuf only",
      "application/vnd.kubernetes.protobuf",
      /only application\/vnd\.kubernetes\.protobuf;.*Ask for application\/json \(kubectl's default/,
    ],
    [
      "protobuf watch only",
      "application/vnd.kubernetes.protobuf;stream=watch",
      /only application\/vnd\.kubernetes\.protobuf;/,
    ],
    ["YAML only", "application/yaml", /only application\/yaml;/],
    [
      "a CBOR Sequence, which kube-apiserver refuses too",
      "application/cbor-seq",
      /only application\/cbor-seq;/,
    ],
    ["HTML", "text/html,application/xhtml+xml", /only text\/html, application\/xhtml\+xml;/],
    ["everything at q=0", "application/json;q=0, */*;q=0", /accepts no media type/],
    ["nothing parseable", "garbage", /accepts no media type/],
  ];
  for (const [what, accept, reason] of refused) {
    test(`refuses ${what}`, () => {
      const negotiated = negotiate(accept);
      assert.ok("refuse" in negotiated, `expected a refusal, got ${JSON.stringify(negotiated)}`);
      assert.match(negotiated.refuse.reason, reason);
    });
  }

  test("never asks upstream for anything but JSON", () => {
    const accepts = [
      kubectlGet,
      metadataList,
      "*/*",
      "application/*, application/cbor, application/yaml, application/vnd.kubernetes.protobuf",
      "application/cbor;as=Table;v=v1;g=meta.k8s.io;q=0.3, text/plain",
      "application/cbor",
    ];
    for (const accept of accepts) {
      const negotiated = negotiate(accept);
      assert.ok("upstreamAccept" in negotiated);
      for (const alternative of negotiated.upstreamAccept.split(",")) {
        assert.match(alternative, /^application\/json(;|$)/, `${accept} → ${alternative}`);
      }
    }
  });
});

describe("responseKind", () => {
  const kinds: [string | undefined, string | undefined, string][] = [
    ["application/json", undefined, "json"],
    ["application/json;stream=watch", undefined, "json"],
    ["application/json;as=Table;v=v1;g=meta.k8s.io", "identity", "json"],
    ["application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", "", "json"],
    ["Application/JSON; charset=utf-8", undefined, "json"],
    ["text/plain", undefined, "text"],
    ["text/plain; charset=UTF-8", undefined, "text"],
    ["text/plain; charset=iso-8859-1", undefined, "unreadable"],
    ["application/json", "gzip", "unreadable"],
    ["text/plain", "deflate", "unreadable"],
    ["application/json", "gzip, identity", "unreadable"],
    ["application/vnd.kubernetes.protobuf", undefined, "unreadable"],
    ["application/vnd.kubernetes.protobuf;stream=watch", undefined, "unreadable"],
    ["application/cbor", undefined, "unreadable"],
    ["application/cbor-seq", undefined, "unreadable"],
    ["application/yaml", undefined, "unreadable"],
    ["application/octet-stream", undefined, "unreadable"],
    [undefined, undefined, "unreadable"],
    ["not a media type", undefined, "unreadable"],
  ];
  for (const [contentType, encoding, kind] of kinds) {
    test(`${contentType ?? "no Content-Type"} with ${encoding || "no"} encoding is ${kind}`, () => {
      assert.equal(responseKind(contentType, encoding), kind);
    });
  }
});

describe("answerContentType", () => {
  test("JSON goes back as the API server labelled it", () => {
    assert.equal(
      answerContentType("json", "application/json;stream=watch"),
      "application/json;stream=watch",
    );
  });

  test("a CBOR watch is a CBOR Sequence, a CBOR object is application/cbor", () => {
    assert.equal(
      answerContentType("cbor", "application/json;stream=watch"),
      "application/cbor-seq",
    );
    assert.equal(answerContentType("cbor", "application/json"), "application/cbor");
  });

  test("isWatchStream reads the stream parameter", () => {
    assert.equal(isWatchStream("application/json; stream=watch"), true);
    assert.equal(isWatchStream("application/json"), false);
    assert.equal(isWatchStream(undefined), false);
  });
});
