import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type MaskingConfig, maskingConfigSchema, profilesFromConfig } from "./config.ts";
import { JsonRewriter } from "./json/rewriter.ts";
import { NO_MASKING, type ProfileSet, UnknownProfileError } from "./profiles.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-masking-config-"));
});
after(() => rm(dir, { recursive: true, force: true }));

const parse = (input: unknown): MaskingConfig => maskingConfigSchema.parse(input);

function rewrite(profiles: ProfileSet, name: string, object: unknown): unknown {
  const profile = profiles.resolve(name);
  assert.ok(profile);
  return JSON.parse(
    JsonRewriter.rewrite(JSON.stringify(object), {
      engine: profile.engine,
      secretData: profile.secretData,
      fieldRules: profile.fieldRules,
      hashKey: profile.hashKey,
    }),
  );
}

describe("masking configuration", () => {
  test("built-in profiles exist with no configuration; `none` resolves to no masking", () => {
    const profiles = profilesFromConfig(parse({}), dir);
    assert.deepEqual([...profiles.names].sort(), ["default", NO_MASKING, "secrets"].sort());
    assert.equal(profiles.resolve(NO_MASKING), undefined);
    assert.equal(profiles.resolve("default")?.secretData, "scan");
    assert.equal(profiles.resolve("secrets")?.secretData, "mask");
    assert.throws(() => profiles.resolve("typo"), UnknownProfileError);
  });

  test("the hash key is created once in the data dir and reused", async () => {
    const first = profilesFromConfig(parse({}), dir).resolve("default")?.hashKey;
    const key = await readFile(join(dir, "masking", "hash.key"), "utf8");
    assert.equal(Buffer.from(key.trim(), "base64").length, 32);
    assert.deepEqual(profilesFromConfig(parse({}), dir).resolve("default")?.hashKey, first);
  });

  test("custom detectors, styles and field rules take effect in a profile", () => {
    const profiles = profilesFromConfig(
      parse({
        customDetectors: [
          {
            id: "employee-id",
            pattern: "EMP-[0-9]{6}",
            contextWords: ["employee"],
            mask: { keepLast: 2 },
          },
        ],
        profiles: {
          strict: {
            styles: { card: "hash" },
            fieldRules: [{ kind: "ConfigMap", path: "data.license" }],
          },
        },
      }),
      dir,
    );
    const out = rewrite(profiles, "strict", {
      kind: "ConfigMap",
      data: {
        staff: "employee EMP-123456",
        other: "ticket EMP-123456",
        card: "4111 1111 1111 1111",
        license: "ABC",
      },
    }) as { data: Record<string, string> };
    assert.equal(out.data.staff, "employee ***-****56");
    assert.equal(out.data.other, "ticket EMP-123456");
    assert.match(out.data.card ?? "", /^\[card:[0-9a-f]{16}\]$/);
    assert.equal(out.data.license, "[field:ConfigMap.data.license]");
  });

  test("configuration errors name the place and the problem", () => {
    assert.throws(
      () => profilesFromConfig(parse({ profiles: { p: { detectors: ["nope"] } } }), dir),
      /masking\.profiles\.p: unknown detector "nope"/,
    );
    assert.throws(
      () => profilesFromConfig(parse({ profiles: { none: {} } }), dir),
      /"none" is built in/,
    );
    assert.throws(
      () => profilesFromConfig(parse({ customDetectors: [{ id: "bad", pattern: "(a" }] }), dir),
      /masking\.customDetectors\[0\] \(bad\): pattern "\(a" is not valid RE2 syntax/,
    );
    assert.throws(
      () => parse({ profiles: { p: { fieldRules: [{ path: "a", envName: "b" }] } } }),
      /exactly one of/,
    );
    assert.throws(() => parse({ customDetectors: [{ id: "card", pattern: "x" }] }), /built-in/);
  });
});
