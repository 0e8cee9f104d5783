import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PortcullisError } from "../errors.ts";
import { buildProfiles } from "../masking/profiles.ts";
import type { Masked, Recorded } from "../server/context.ts";
import { maskStage } from "./mask.ts";

const stage = maskStage(buildProfiles({}));

function context(
  profile: string | undefined,
  options: { accept?: string; upgrade?: string; subresource?: string } = {},
) {
  return {
    req: {
      headers: {
        ...(options.accept === undefined ? {} : { accept: options.accept }),
        ...(options.upgrade === undefined ? {} : { upgrade: options.upgrade }),
      },
    },
    requestInfo: { resource: "pods", subresource: options.subresource ?? "" },
    transport: options.upgrade === undefined ? { kind: "http" } : { kind: "upgrade" },
    decision: { action: "allow", ruleId: "r/1", message: "m", trace: [], maskingProfile: profile },
    outcome: { status: 0, bytesOut: 0, verb: "get", resource: "configmaps", user: "u" },
  } as unknown as Recorded;
}

async function passed(ctx: Recorded): Promise<Masked> {
  let seen: Masked | undefined;
  await stage(ctx, async (next) => {
    seen = next;
  });
  assert.ok(seen, "the call went on");
  return seen;
}

function refusedWith(code: string, pattern: RegExp) {
  return (err: unknown) =>
    err instanceof PortcullisError && err.code === code && pattern.test(err.message);
}

describe("mask stage", () => {
  test("no profile, or `none`: the answer is not masked", async () => {
    assert.equal((await passed(context(undefined))).masking, undefined);
    assert.equal((await passed(context("none"))).masking, undefined);
  });

  test("a profile: JSON upstream whatever the client asked, and a tally on the outcome", async () => {
    const ctx = context("default", {
      accept:
        "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io",
    });
    const masked = await passed(ctx);
    assert.equal(masked.masking?.profile.name, "default");
    assert.equal(masked.masking?.answer, "json");
    assert.equal(masked.masking?.upstreamAccept, "application/json;as=Table;v=v1;g=meta.k8s.io");
    assert.equal(ctx.outcome.masked, masked.masking?.tally);
  });

  test("fails closed: unknown profile, protobuf-only client, interactive stream", async () => {
    await assert.rejects(
      stage(context("typo"), async () => {}),
      refusedWith(
        "forbidden",
        /rule r\/1: masking profile "typo" is not configured.*refused rather than answered in clear/,
      ),
    );
    await assert.rejects(
      stage(context("default", { accept: "application/vnd.kubernetes.protobuf" }), async () => {}),
      refusedWith("not_acceptable", /application\/json/),
    );
    for (const [subresource, upgrade] of [
      ["exec", "SPDY/3.1"],
      ["attach", "SPDY/3.1"],
    ] as const) {
      await assert.rejects(
        stage(context("default", { upgrade, subresource }), async () => {}),
        refusedWith("forbidden", /this stream cannot be masked/),
      );
    }
  });

  test("exec and attach over WebSocket pass, to be masked frame by frame", async () => {
    for (const subresource of ["exec", "attach"]) {
      const masked = await passed(context("default", { upgrade: "websocket", subresource }));
      assert.equal(masked.sessionMasking?.profile.name, "default");
      assert.equal(masked.masking, undefined);
    }
  });

  test("port-forward passes unmasked: its content is the pod's own protocol, on a named port", async () => {
    for (const upgrade of ["websocket", "SPDY/3.1"]) {
      const passedOn = await passed(context("default", { upgrade, subresource: "portforward" }));
      assert.equal(passedOn.masking, undefined);
      assert.equal(passedOn.sessionMasking, undefined);
    }
  });
});
