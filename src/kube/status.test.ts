import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ErrorCode, PortcullisError, type StatusReason } from "../errors.ts";
import { toStatus } from "./status.ts";

// `satisfies Record<ErrorCode, …>` makes a new code without a row a compile error.
const expected = {
  unauthenticated: [401, "Unauthorized"],
  bad_request: [400, "BadRequest"],
  ambiguous_path: [400, "BadRequest"],
  forbidden: [403, "Forbidden"],
  not_found: [404, "NotFound"],
  payload_too_large: [413, "RequestEntityTooLarge"],
  upstream_unavailable: [502, "ServiceUnavailable"],
  upstream_error: [502, "ServiceUnavailable"],
  audit_unavailable: [503, "ServiceUnavailable"],
  shutting_down: [503, "ServiceUnavailable"],
  not_acceptable: [406, "NotAcceptable"],
  internal: [500, "InternalError"],
} as const satisfies Record<ErrorCode, readonly [number, StatusReason]>;

describe("toStatus", () => {
  for (const [code, [httpStatus, reason]] of Object.entries(expected)) {
    test(`renders ${code} as a Failure Status with code ${httpStatus} and reason ${reason}`, () => {
      const status = toStatus(new PortcullisError(code as ErrorCode, `portcullis: ${code} here`));
      assert.deepEqual(status, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `portcullis: ${code} here`,
        reason,
        code: httpStatus,
      });
    });
  }

  test("renders an unknown error as a generic 500 without its message", () => {
    const status = toStatus(new Error("ECONNREFUSED 10.0.0.7:6443 secret internals"));
    assert.equal(status.code, 500);
    assert.equal(status.reason, "InternalError");
    assert.equal(status.message, "portcullis: internal error");
  });

  test("renders a thrown non-Error value as a generic 500", () => {
    assert.equal(toStatus("boom").code, 500);
    assert.equal(toStatus(undefined).code, 500);
  });

  test("never puts an error's detail into the Status", () => {
    const status = toStatus(
      new PortcullisError("forbidden", "portcullis: denied", { detail: "rule 7 matched" }),
    );
    assert.doesNotMatch(JSON.stringify(status), /rule 7/);
  });
});
