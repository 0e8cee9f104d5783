import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { callFilter, parseDuration, renderTable, timeRange } from "./audit-read.ts";

describe("parseDuration", () => {
  test("reads minutes, hours, days, weeks and combinations", () => {
    assert.equal(parseDuration("90m"), 90 * 60_000);
    assert.equal(parseDuration("24h"), 24 * 3_600_000);
    assert.equal(parseDuration("7d"), 7 * 86_400_000);
    assert.equal(parseDuration("1w"), 7 * 86_400_000);
    assert.equal(parseDuration("1h30m"), 90 * 60_000);
    assert.equal(parseDuration("45s"), 45_000);
  });

  test("refuses what is not a duration", () => {
    for (const text of ["", "7", "d", "5x", "1h 30m", "-1h", "1h30"])
      assert.throws(() => parseDuration(text), /is not a duration/, text);
  });
});

describe("timeRange", () => {
  const now = Date.parse("2030-01-08T00:00:00.000Z");

  test("--since counts back from now", () => {
    assert.deepEqual(timeRange({ since: parseDuration("7d") }, now), {
      from: "2030-01-01T00:00:00.000Z",
    });
  });

  test("--from wins over a default --since; --to passes through", () => {
    assert.deepEqual(
      timeRange(
        { since: 1000, from: "2029-12-01T00:00:00.000Z", to: "2030-01-02T00:00:00.000Z" },
        now,
      ),
      { from: "2029-12-01T00:00:00.000Z", to: "2030-01-02T00:00:00.000Z" },
    );
    assert.deepEqual(timeRange({}, now), {});
  });
});

describe("callFilter", () => {
  test("--agent names the agent by the configured prefix and by subject", () => {
    const filter = callFilter({ agent: "deployer", verb: "get", session: "s-1" });
    assert.deepEqual(filter, {
      agent: { username: "portcullis:agent:deployer", subject: "deployer" },
      verb: "get",
      sessionId: "s-1",
    });
  });

  test("--user filters on the username alone", () => {
    assert.deepEqual(callFilter({ user: "alice@example.com", decision: "deny" }), {
      username: "alice@example.com",
      decision: "deny",
    });
  });
});

describe("renderTable", () => {
  test("aligns columns two spaces apart without trailing spaces", () => {
    assert.equal(
      renderTable(
        ["A", "LONGER", "C"],
        [
          ["xyz", "1", ""],
          ["x", "22", "end"],
        ],
      ),
      "A    LONGER  C\nxyz  1\nx    22      end\n",
    );
  });
});
