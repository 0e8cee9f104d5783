import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PortcullisError } from "../errors.ts";
import type { Identity } from "../identity/identity.ts";
import { escapeExtraKey, impersonationHeaders } from "./impersonation.ts";

function identity(overrides: Partial<Identity> = {}): Identity {
  return {
    subject: "builder",
    issuer: "portcullis",
    kind: "agent",
    username: "portcullis:agent:builder",
    groups: [],
    extra: {},
    method: "agent-token",
    ...overrides,
  };
}

/** What the API server does with an `Impersonate-Extra-` key: lower-case, then url.PathUnescape. */
function apiserverUnescape(headerKey: string): string {
  return decodeURIComponent(headerKey.toLowerCase());
}

describe("impersonationHeaders", () => {
  test("asserts the identity's user, groups, uid and extra as Impersonate-* headers", () => {
    const headers = impersonationHeaders(
      identity({
        groups: ["portcullis:agents", "team-a"],
        uid: "5f0c-uid",
        extra: { "portcullis.dev/issuer": ["portcullis"], scopes: ["view", "edit"] },
      }),
    );
    assert.deepEqual(headers, {
      "impersonate-user": "portcullis:agent:builder",
      "impersonate-group": ["portcullis:agents", "team-a"],
      "impersonate-uid": "5f0c-uid",
      "impersonate-extra-portcullis.dev%2Fissuer": ["portcullis"],
      "impersonate-extra-scopes": ["view", "edit"],
    });
  });

  test("sends only Impersonate-User when there are no groups, uid or extra", () => {
    assert.deepEqual(impersonationHeaders(identity({ uid: "", extra: { empty: [] } })), {
      "impersonate-user": "portcullis:agent:builder",
    });
  });

  test("refuses a username with control characters as unauthenticated", () => {
    for (const username of ["alice\r\nImpersonate-Group: system:masters", "bob\x00", "tab\there"]) {
      assert.throws(
        () => impersonationHeaders(identity({ username })),
        (err: unknown) =>
          err instanceof PortcullisError &&
          err.code === "unauthenticated" &&
          /user name/.test(err.message),
        JSON.stringify(username),
      );
    }
  });

  test("refuses a username with non-ASCII characters as unauthenticated", () => {
    assert.throws(
      () => impersonationHeaders(identity({ username: "jürgen" })),
      (err: unknown) => err instanceof PortcullisError && err.code === "unauthenticated",
    );
  });

  test("refuses control characters in a group, the uid or an extra value", () => {
    const cases: Partial<Identity>[] = [
      { groups: ["ok", "bad\ngroup"] },
      { uid: "uid\r" },
      { extra: { scopes: ["bad\x7f"] } },
    ];
    for (const overrides of cases) {
      assert.throws(
        () => impersonationHeaders(identity(overrides)),
        (err: unknown) => err instanceof PortcullisError && err.code === "unauthenticated",
        JSON.stringify(overrides),
      );
    }
  });
});

describe("escapeExtraKey", () => {
  test("percent-escapes a slash with upper-case hex, as client-go does", () => {
    assert.equal(escapeExtraKey("portcullis.dev/issuer"), "portcullis.dev%2Fissuer");
  });

  test("lower-cases the key, because the API server lower-cases header names", () => {
    assert.equal(escapeExtraKey("Portcullis.Dev/Issuer"), "portcullis.dev%2Fissuer");
  });

  test("leaves HTTP token characters alone", () => {
    assert.equal(escapeExtraKey("a-z_0.9!#$&'*+^`|~"), "a-z_0.9!#$&'*+^`|~");
  });

  test("escapes '%' itself, so the API server's unescape gives the key back", () => {
    assert.equal(escapeExtraKey("100%"), "100%25");
    assert.equal(apiserverUnescape(escapeExtraKey("100%")), "100%");
  });

  test("escapes spaces, separators and non-ASCII bytes as UTF-8", () => {
    assert.equal(escapeExtraKey("a b:c"), "a%20b%3Ac");
    assert.equal(escapeExtraKey("ü"), "%C3%BC");
  });

  test("every escaped key is a valid header name that unescapes to the lower-cased key", () => {
    // HTTP token characters; the escapes' hex digits are upper-case.
    const headerName = /^[a-z0-9A-F!#$%&'*+.^_`|~-]+$/;
    for (const key of ["portcullis.dev/issuer", "A/B C", "x%y", "ключ", "scopes", "k=v;q"]) {
      const escaped = escapeExtraKey(key);
      assert.match(escaped, headerName, key);
      assert.equal(apiserverUnescape(escaped), key.toLowerCase(), key);
    }
  });
});
