import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { describe, test } from "node:test";
import {
  connectionListed,
  forwardableRequestHeaders,
  forwardableResponseHeaders,
} from "./headers.ts";

describe("forwardableRequestHeaders", () => {
  test("passes the allow-listed headers a Kubernetes client sends, values unchanged", () => {
    const headers: IncomingHttpHeaders = {
      accept: "application/json;as=Table;v=v1;g=meta.k8s.io, application/json",
      "accept-encoding": "gzip",
      "accept-language": "en",
      "content-type": "application/apply-patch+yaml",
      "content-length": "42",
      "content-encoding": "gzip",
      "user-agent": "kubectl/v1.37.0",
      "kubectl-command": "kubectl apply",
      "kubectl-session": "3f1c",
      "x-stream-protocol-version": "v5.channel.k8s.io",
      "sec-websocket-protocol": "v5.channel.k8s.io, v4.channel.k8s.io",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-extensions": "permessage-deflate",
      "if-match": '"abc"',
      "if-none-match": '"def"',
    };
    assert.deepEqual(forwardableRequestHeaders(headers), headers);
  });

  test("drops the client's Authorization header", () => {
    const out = forwardableRequestHeaders({ accept: "*/*", authorization: "Bearer client-token" });
    assert.deepEqual(out, { accept: "*/*" });
  });

  test("drops every Impersonate-* header: user, group, uid and extra-*", () => {
    const out = forwardableRequestHeaders({
      accept: "*/*",
      "impersonate-user": "system:admin",
      "impersonate-group": "system:masters",
      "impersonate-uid": "1234",
      "impersonate-extra-scopes": "view",
      "impersonate-extra-portcullis.dev%2fissuer": "forged",
      "impersonate-serviceaccount": "kube-system:default",
    });
    assert.deepEqual(out, { accept: "*/*" });
  });

  test("drops front-proxy X-Remote-User, X-Remote-Group and X-Remote-Extra-* headers", () => {
    const out = forwardableRequestHeaders({
      accept: "*/*",
      "x-remote-user": "system:admin",
      "x-remote-group": "system:masters",
      "x-remote-extra-scopes": "all",
    });
    assert.deepEqual(out, { accept: "*/*" });
  });

  test("drops Proxy-Authorization, Cookie and headers it does not know", () => {
    const out = forwardableRequestHeaders({
      accept: "*/*",
      "proxy-authorization": "Basic cm9vdDpyb290",
      cookie: "session=abc",
      "x-forwarded-for": "10.0.0.1",
      "audit-id": "forged",
      host: "evil.example",
      "x-something-new": "1",
      "transfer-encoding": "chunked",
      upgrade: "websocket",
      connection: "keep-alive",
    });
    assert.deepEqual(out, { accept: "*/*" });
  });

  test("drops an allow-listed header that the client lists in Connection", () => {
    const out = forwardableRequestHeaders({
      connection: "keep-alive, User-Agent",
      accept: "*/*",
      "user-agent": "kubectl",
    });
    assert.deepEqual(out, { accept: "*/*" });
  });

  test("reads Connection tokens case-insensitively, with or without spaces around commas", () => {
    const headers = {
      accept: "*/*",
      "accept-language": "en",
      "user-agent": "kubectl",
      "if-match": '"x"',
      "content-type": "application/json",
    };
    for (const connection of [
      "ACCEPT-LANGUAGE,User-Agent,if-match",
      "accept-language , user-agent ,IF-MATCH",
      "  Accept-Language,,  user-agent,\tIf-Match  ",
    ]) {
      const out = forwardableRequestHeaders({ ...headers, connection });
      assert.deepEqual(
        out,
        { accept: "*/*", "content-type": "application/json" },
        `Connection: ${connection}`,
      );
    }
  });
});

describe("connectionListed", () => {
  test("returns the lower-cased names listed in Connection", () => {
    assert.deepEqual(
      connectionListed({ connection: "Upgrade, X-Custom ,keep-alive" }),
      new Set(["upgrade", "x-custom", "keep-alive"]),
    );
  });

  test("returns an empty set without a Connection header", () => {
    assert.equal(connectionListed({ accept: "*/*" }).size, 0);
  });
});

describe("forwardableResponseHeaders", () => {
  test("keeps end-to-end headers such as audit-id, content-type and warning", () => {
    const headers: IncomingHttpHeaders = {
      "audit-id": "7e0a5b2c-0000-4000-8000-000000000000",
      "content-type": "application/json",
      "content-length": "120",
      warning: '299 - "unknown field"',
      "cache-control": "no-cache, private",
      "x-kubernetes-pf-flowschema-uid": "abc",
      "set-cookie": ["a=1", "b=2"],
    };
    assert.deepEqual(forwardableResponseHeaders(headers), headers);
  });

  test("drops the hop-by-hop headers of RFC 9110", () => {
    const out = forwardableResponseHeaders({
      "content-type": "application/json",
      connection: "keep-alive",
      "keep-alive": "timeout=5",
      "proxy-connection": "keep-alive",
      "proxy-authenticate": "Basic",
      "proxy-authorization": "Basic abc",
      te: "trailers",
      trailer: "x-checksum",
      "transfer-encoding": "chunked",
      upgrade: "h2c",
    });
    assert.deepEqual(out, { "content-type": "application/json" });
  });

  test("drops a header the upstream lists in Connection", () => {
    const out = forwardableResponseHeaders({
      connection: "close, X-Upstream-Secret",
      "x-upstream-secret": "s3cr3t",
      "audit-id": "abc",
      warning: '299 - "deprecated"',
    });
    assert.deepEqual(out, { "audit-id": "abc", warning: '299 - "deprecated"' });
  });
});
