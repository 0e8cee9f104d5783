import assert from "node:assert/strict";
import { test } from "node:test";
import { seededUint32 } from "../../test/support/random.ts";
import { isPortcullisError } from "../errors.ts";
import { classifyRequest, type RequestInfo } from "./request-info.ts";

/** method, url, verb, apiGroup, apiVersion, namespace, resource, subresource, name, parts */
type ResourceCase = [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string[],
];

// The first 29 rows are the apiserver's own TestGetAPIRequestInfo table.
// biome-ignore format: one row per case reads like the apiserver's table
const resourceCases: ResourceCase[] = [
  ["GET", "/api/v1/namespaces", "list", "", "v1", "", "namespaces", "", "", ["namespaces"]],
  ["GET", "/api/v1/namespaces/other", "get", "", "v1", "other", "namespaces", "", "other", ["namespaces", "other"]],
  ["GET", "/api/v1/namespaces/other/pods", "list", "", "v1", "other", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/namespaces/other/pods/foo", "get", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]],
  ["HEAD", "/api/v1/namespaces/other/pods/foo", "get", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]],
  ["GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["HEAD", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/proxy/namespaces/other/pods/foo", "proxy", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]],
  ["GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", "proxy", "", "v1", "other", "pods", "", "foo", ["pods", "foo", "subpath", "not", "a", "subresource"]],
  ["GET", "/api/v1/watch/pods", "watch", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?watch=true", "watch", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?watch=false", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/watch/namespaces/other/pods", "watch", "", "v1", "other", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/namespaces/other/pods?watch=1", "watch", "", "v1", "other", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/namespaces/other/pods?watch=0", "list", "", "v1", "other", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/namespaces/other/pods/foo/status", "get", "", "v1", "other", "pods", "status", "foo", ["pods", "foo", "status"]],
  ["GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", "", "v1", "other", "pods", "proxy", "foo", ["pods", "foo", "proxy", "subpath"]],
  ["PUT", "/api/v1/namespaces/other/finalize", "update", "", "v1", "other", "namespaces", "finalize", "other", ["namespaces", "other", "finalize"]],
  ["PUT", "/api/v1/namespaces/other/status", "update", "", "v1", "other", "namespaces", "status", "other", ["namespaces", "other", "status"]],
  ["PATCH", "/api/v1/namespaces/other/pods/foo", "patch", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]],
  ["DELETE", "/api/v1/namespaces/other/pods/foo", "delete", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]],
  ["POST", "/api/v1/namespaces/other/pods", "create", "", "v1", "other", "pods", "", "", ["pods"]],
  ["DELETE", "/api/v1/nodes", "deletecollection", "", "v1", "", "nodes", "", "", ["nodes"]],
  ["DELETE", "/api/v1/namespaces", "deletecollection", "", "v1", "", "namespaces", "", "", ["namespaces"]],
  ["DELETE", "/api/v1/namespaces/other/pods", "deletecollection", "", "v1", "other", "pods", "", "", ["pods"]],
  ["DELETE", "/apis/extensions/v1/namespaces/other/pods", "deletecollection", "extensions", "v1", "other", "pods", "", "", ["pods"]],
  ["POST", "/apis/extensions/v1/namespaces/other/pods", "create", "extensions", "v1", "other", "pods", "", "", ["pods"]],
  ["POST", "/apis/extensions/v1beta3/namespaces/other/pods", "create", "extensions", "v1beta3", "other", "pods", "", "", ["pods"]],
  // v1.31+ dropped the server-side-apply special case that blanked the namespace here.
  ["PATCH", "/api/v1/namespaces/new-namespace", "patch", "", "v1", "new-namespace", "namespaces", "", "new-namespace", ["namespaces", "new-namespace"]],

  // group APIs, cluster scope, subresources
  ["GET", "/apis/apps/v1/deployments", "list", "apps", "v1", "", "deployments", "", "", ["deployments"]],
  ["PUT", "/apis/apps/v1/namespaces/ns/deployments/web", "update", "apps", "v1", "ns", "deployments", "", "web", ["deployments", "web"]],
  ["PATCH", "/apis/apps/v1/namespaces/ns/deployments/web/scale", "patch", "apps", "v1", "ns", "deployments", "scale", "web", ["deployments", "web", "scale"]],
  ["GET", "/api/v1/nodes/n1", "get", "", "v1", "", "nodes", "", "n1", ["nodes", "n1"]],
  ["DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", "delete", "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "admin", ["clusterroles", "admin"]],
  ["GET", "/api/v1/namespaces/status", "get", "", "v1", "status", "namespaces", "", "status", ["namespaces", "status"]],
  ["POST", "/api/v1/namespaces/ns/pods/web/exec?command=ls&stdout=true", "create", "", "v1", "ns", "pods", "exec", "web", ["pods", "web", "exec"]],
  ["GET", "/api/v1/namespaces/ns/pods/web/exec?command=ls", "get", "", "v1", "ns", "pods", "exec", "web", ["pods", "web", "exec"]],
  ["POST", "/api/v1/namespaces/ns/pods/web/attach", "create", "", "v1", "ns", "pods", "attach", "web", ["pods", "web", "attach"]],
  ["GET", "/api/v1/namespaces/ns/pods/web/log?follow=true", "get", "", "v1", "ns", "pods", "log", "web", ["pods", "web", "log"]],
  ["POST", "/api/v1/namespaces/ns/pods/web/portforward", "create", "", "v1", "ns", "pods", "portforward", "web", ["pods", "web", "portforward"]],
  ["PATCH", "/api/v1/namespaces/ns/pods/web/ephemeralcontainers", "patch", "", "v1", "ns", "pods", "ephemeralcontainers", "web", ["pods", "web", "ephemeralcontainers"]],
  ["PUT", "/api/v1/namespaces/ns/pods/web/proxy/a/b", "update", "", "v1", "ns", "pods", "proxy", "web", ["pods", "web", "proxy", "a", "b"]],
  ["GET", "/api/v1/namespaces/ns/services/web:http/proxy/metrics/raw", "get", "", "v1", "ns", "services", "proxy", "web:http", ["services", "web:http", "proxy", "metrics", "raw"]],
  ["POST", "/api/v1/proxy/nodes/n1/stats", "proxy", "", "v1", "", "nodes", "", "n1", ["nodes", "n1", "stats"]],
  ["OPTIONS", "/api/v1/pods", "", "", "v1", "", "pods", "", "", ["pods"]],
  ["get", "/api/v1/pods", "", "", "v1", "", "pods", "", "", ["pods"]],

  // watch: first value wins; only "0" and "false" (any case) mean false
  ["GET", "/api/v1/pods?watch", "watch", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?watch=FALSE", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?watch=f", "watch", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?watch=0&watch=1", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?w%61tch=true", "watch", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/watch/namespaces/ns/pods/web", "watch", "", "v1", "ns", "pods", "", "web", ["pods", "web"]],
  ["GET", "/api/v1/watch/namespaces/ns", "watch", "", "v1", "ns", "namespaces", "", "ns", ["namespaces", "ns"]],
  ["GET", "/api/v1/namespaces/ns/pods/web?watch=true", "get", "", "v1", "ns", "pods", "", "web", ["pods", "web"]],

  // fieldSelector=metadata.name names the object of a list or watch
  ["GET", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb", "list", "", "v1", "ns", "pods", "", "web", ["pods"]],
  ["GET", "/api/v1/namespaces/ns/pods?watch=1&fieldSelector=metadata.name=web&resourceVersion=7", "watch", "", "v1", "ns", "pods", "", "web", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name==web", "list", "", "v1", "", "pods", "", "web", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=spec.nodeName=n1,metadata.name=web", "list", "", "v1", "", "pods", "", "web", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=b,metadata.name=a", "list", "", "v1", "", "pods", "", "a", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=a%5C%2Cb", "list", "", "v1", "", "pods", "", "a,b", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=a&fieldSelector=metadata.name=b", "list", "", "v1", "", "pods", "", "a", ["pods"]],
  ["GET", "/api/v1/pods?limit=500&timeoutSeconds=%2B30&fieldSelector=metadata.name=web", "list", "", "v1", "", "pods", "", "web", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name!=web", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=web,foo", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=web,foo&watch=true", "watch", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=a=b", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=a%5Cb", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=a%25b", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name=..", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?fieldSelector=metadata.name%20=web", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?limit=ten&fieldSelector=metadata.name=web", "list", "", "v1", "", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/pods?watch=1&timeoutSeconds=9223372036854775808&fieldSelector=metadata.name=web", "watch", "", "v1", "", "pods", "", "", ["pods"]],
  ["DELETE", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web", "deletecollection", "", "v1", "ns", "pods", "", "", ["pods"]],
  ["GET", "/apis/g/v/watch/things?fieldSelector=metadata.name=foo", "watch", "g", "v", "", "things", "", "", ["things"]],

  // decoding and a single trailing slash, as the apiserver trims it
  ["GET", "/api/v1/namespaces/d%65fault/pods", "list", "", "v1", "default", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/namespaces/ns/pods/", "list", "", "v1", "ns", "pods", "", "", ["pods"]],
  ["GET", "/api/v1/namespaces/ns/configmaps/caf%C3%A9", "get", "", "v1", "ns", "configmaps", "", "café", ["configmaps", "café"]],
];

for (const [
  method,
  url,
  verb,
  apiGroup,
  apiVersion,
  namespace,
  resource,
  subresource,
  name,
  parts,
] of resourceCases) {
  test(`classifies ${method} ${url} as ${verb || "no verb"} ${resource}${subresource ? `/${subresource}` : ""}`, () => {
    const expected: RequestInfo = {
      isResourceRequest: true,
      path: decodeURIComponent(url.split("?")[0] ?? ""),
      verb,
      apiPrefix: apiGroup === "" ? "api" : "apis",
      apiGroup,
      apiVersion,
      namespace,
      resource,
      subresource,
      name,
      parts,
    };
    assert.deepEqual(classifyRequest(method, url), expected);
  });
}

/** method, url, verb, apiPrefix: paths the apiserver serves outside the resource tree */
const nonResourceCases: Array<[string, string, string, string]> = [
  ["GET", "/", "get", ""],
  ["GET", "/healthz", "get", ""],
  ["GET", "/livez?verbose", "get", ""],
  ["HEAD", "/readyz", "head", ""],
  ["GET", "/version", "get", ""],
  ["GET", "/metrics", "get", ""],
  ["GET", "/openapi/v2", "get", ""],
  ["GET", "/openapi/v3/apis/apps/v1", "get", ""],
  ["GET", "/api", "get", ""],
  ["GET", "/api/v1", "get", ""],
  ["GET", "/api/v1/", "get", ""],
  ["GET", "/apis", "get", ""],
  ["GET", "/apis/apps", "get", ""],
  // the apiserver records the prefix before it finds a group path too short
  ["GET", "/apis/apps/v1", "get", "apis"],
  ["GET", "/apis/apps/v1/", "get", "apis"],
  ["GET", "/apis/version/resource", "get", "apis"],
  ["GET", "/badprefix/version/resource", "get", ""],
  ["POST", "/logs/kube-apiserver.log", "post", ""],
  ["PUT", "/healthz", "put", ""],
  ["PATCH", "/version", "patch", ""],
  ["DELETE", "/healthz", "delete", ""],
  ["OPTIONS", "/version", "options", ""],
];

for (const [method, url, verb, apiPrefix] of nonResourceCases) {
  test(`treats ${method} ${url} as a non-resource request`, () => {
    const info = classifyRequest(method, url);
    assert.deepEqual(info, {
      isResourceRequest: false,
      path: url.split("?")[0],
      verb,
      apiPrefix,
      apiGroup: "",
      apiVersion: "",
      namespace: "",
      resource: "",
      subresource: "",
      name: "",
      parts: [],
    });
  });
}

for (const url of ["/api/v1/watch", "/api/v1/watch/", "/api/v1/proxy", "/apis/apps/v1/watch"]) {
  test(`refuses ${url} as a bad request, as the apiserver cannot classify it`, () => {
    assert.throws(() => classifyRequest("GET", url), {
      name: "PortcullisError",
      code: "bad_request",
    });
  });
}

/** url, the reason the message must end with */
// biome-ignore format: one row per case
const refusals: Array<[string, string]> = [
  ["/api/v1/namespaces/ns/secrets%2Fx", "encoded slash"],
  ["/api/v1/namespaces/ns%2fkube-system/secrets", "encoded slash"],
  ["/api/v1/namespaces/ns/pods/a%5Cb", "backslash"],
  ["/api/v1/namespaces/ns/pods/a%5cb", "backslash"],
  ["/api/v1/namespaces/ns/pods/a\\b", "backslash"],
  ["/api/v1/namespaces/ns/../kube-system/secrets", "dot segment"],
  ["/api/v1/./pods", "dot segment"],
  ["/api/v1/namespaces/ns/pods/..", "dot segment"],
  ["/api/v1/namespaces/%2e/pods", "dot segment"],
  ["/api/v1/namespaces/ns/pods/%2e%2E", "dot segment"],
  ["/api/v1/namespaces/ns/pods/.%2e/x", "dot segment"],
  ["/api//v1/pods", "empty path segment (//)"],
  ["//evil.example/api/v1/pods", "empty path segment (//)"],
  ["/api/v1/pods//", "empty path segment (//)"],
  ["/api/v1/pods%00", "encoded control character"],
  ["/api/v1/pods/a%1Fb", "encoded control character"],
  ["/api/v1/pods/a%7f", "encoded control character"],
  ["/api/v1/pods\u0000", "control character"],
  ["/api/v1/pods\t/x", "control character"],
  ["/api/v1/pods?x=\r\n", "control character"],
  ["/api/v1/pods\u007f", "control character"],
  ["/api/v1/pods/a b", "raw space or non-ASCII character"],
  ["/api/v1/namespaces/é/pods", "raw space or non-ASCII character"],
  ["/api/v1/pods%zz", "invalid percent-encoding"],
  ["/api/v1/pods/a%4", "invalid percent-encoding"],
  ["/api/v1/pods/a%", "invalid percent-encoding"],
  ["/api/v1/pods/a%C3", "invalid percent-encoding"],
  ["api/v1/pods", "path must start with /"],
  ["", "path must start with /"],
  ["*", "path must start with /"],
  ["http://example.com/api/v1/pods", "absolute-form URL"],
  ["HTTPS://example.com:6443/api", "absolute-form URL"],
  ["example.com:443", "absolute-form URL"],
  ["/api/v1/pods#frag", "fragment (#)"],
  ["/api/v1/pods?watch=1#x", "fragment (#)"],
  ["/api/v1/pods?watch=1;watch=0", "semicolon in query"],
  ["/api/v1/pods?fieldSelector=%zz", "invalid percent-encoding in query"],
  ["/api/v1/pods?fieldSelector=metadata.name%3D%FF", "invalid percent-encoding in query"],
  ["/api/v1/pods?watch=fal%C5%BFe", "non-ASCII watch parameter"],
];

for (const [url, reason] of refusals) {
  test(`refuses ${JSON.stringify(url)}: ${reason}`, () => {
    assert.throws(
      () => classifyRequest("GET", url),
      (err: unknown) => {
        assert.ok(isPortcullisError(err));
        assert.equal(err.code, "ambiguous_path");
        assert.equal(
          err.message,
          `portcullis: refused ambiguous request path ${JSON.stringify(url)}: ${reason}`,
        );
        return true;
      },
    );
  });
}

test("quotes control characters in refusal messages so logs stay one line", () => {
  assert.throws(() => classifyRequest("GET", "/api\n/v1"), { message: /"\/api\\n\/v1"/ });
});

/** A seeded integer generator in [0, n), so a failing fuzz case can be replayed. */
function prng(seed: number): (n: number) => number {
  const next = seededUint32(seed);
  return (n) => next() % n;
}

const SAFE_SEGMENTS = [
  "api",
  "apis",
  "v1",
  "apps",
  "namespaces",
  "ns",
  "pods",
  "web",
  "status",
  "watch",
  "proxy",
  "log",
  "a-b",
  "x:80",
  "%41",
  "caf%C3%A9",
  "..a",
  ".x",
];
const SAFE_QUERIES = [
  "",
  "?watch=1",
  "?watch=false",
  "?fieldSelector=metadata.name%3Dweb",
  "?limit=5&continue=abc",
  "?a=%20b+c",
];
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

function randomSafeUrl(next: (n: number) => number): string {
  const prefix = ["/api/v1", "/apis/apps/v1", "", "/api/v1/watch"][next(4)];
  const segments = Array.from({ length: next(6) }, () => SAFE_SEGMENTS[next(SAFE_SEGMENTS.length)]);
  // A trailing slash only after a segment: "/api/v1//" would be an empty segment.
  const slash = segments.length > 0 && next(5) === 0 ? "/" : "";
  return `${prefix}/${segments.join("/")}${slash}${SAFE_QUERIES[next(SAFE_QUERIES.length)]}`;
}

test("random paths from safe segments classify without ambiguity and deterministically", () => {
  const next = prng(20240611);
  for (let i = 0; i < 2000; i++) {
    const url = randomSafeUrl(next);
    const method = METHODS[next(METHODS.length)] ?? "GET";
    let first: RequestInfo;
    try {
      first = classifyRequest(method, url);
    } catch (err) {
      // Only the apiserver's own "verb prefix with nothing after it" case may fail.
      assert.ok(
        isPortcullisError(err) && err.code === "bad_request",
        `${method} ${url}: ${String(err)}`,
      );
      assert.match(url, /\/(watch|proxy)\/?(\?|$)/);
      continue;
    }
    assert.deepEqual(classifyRequest(method, url), first, `${method} ${url}`);
    assert.equal(first.isResourceRequest, first.apiVersion !== "", `${method} ${url}`);
  }
});

const FORBIDDEN = [
  "%2F",
  "%2f",
  "%5C",
  "%5c",
  "\\",
  "/./",
  "/../",
  "/%2e/",
  "/.%2E/",
  "//",
  "%00",
  "%1f",
  "%7F",
  "\u0000",
  "\n",
  "#",
  "%zz",
  "%C3",
  " ",
];

test("inserting a forbidden sequence anywhere in the path always refuses it as ambiguous", () => {
  const next = prng(7);
  for (let i = 0; i < 2000; i++) {
    const url = randomSafeUrl(next);
    const pathEnd = url.includes("?") ? url.indexOf("?") : url.length;
    const at = 1 + next(pathEnd);
    const bad = FORBIDDEN[next(FORBIDDEN.length)] ?? "";
    const mutated = url.slice(0, at) + bad + url.slice(at);
    assert.throws(() => classifyRequest("GET", mutated), { code: "ambiguous_path" }, mutated);
  }
});
