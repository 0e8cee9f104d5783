import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { hasGo, runAuditCheck } from "../../test/support/auditcheck.ts";
import { csvField, csvRow, exportCsv, exportEventList, exportJsonLines } from "./export.ts";
import type { AuditEvent } from "./k8s-event.ts";
import { leafHash } from "./merkle.ts";
import { agentRef } from "./query.ts";
import { at, type CallSpec, type FilledStore, openFilledStore } from "./query-fixture.ts";

let filled: FilledStore;

before(async () => {
  filled = await openFilledStore();
});

after(async () => {
  await filled?.close();
});

/** Collects what an exporter writes. */
class Sink extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function exported(
  run: (out: Writable) => Promise<number>,
): Promise<{ text: string; count: number }> {
  const sink = new Sink();
  const count = await run(sink);
  return { text: sink.text, count };
}

/** A small RFC 4180 reader, enough to prove the quoting round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const next = text[i + 1];
    if (quoted && c === '"' && next === '"') {
      field += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (!quoted && c === ",") {
      row.push(field);
      field = "";
    } else if (!quoted && c === "\r" && next === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else {
      field += c;
    }
  }
  return rows;
}

describe("JSON Lines export", () => {
  test("without call filters, each line is a stored record, byte for byte, in log order", async () => {
    const { text, count } = await exported((out) => exportJsonLines(filled.store, out));
    const lines = text.trimEnd().split("\n");
    const stored: string[] = [];
    for await (const row of filled.store.scan(0)) stored.push(row.body);
    assert.deepEqual(lines, stored);
    assert.equal(count, stored.length);
    // Each line re-hashes to the Merkle leaf the log committed to.
    const leaves = await filled.store.leafHashes(0, stored.length);
    for (const [i, line] of lines.entries())
      assert.deepEqual(leafHash(Buffer.from(line)), leaves[i]);
  });

  test("a time range keeps only the records in it", async () => {
    const { text } = await exported((out) =>
      exportJsonLines(filled.store, out, { from: at(60), to: at(7200) }),
    );
    const records = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      records.map((r) => [r.kind, r.requestId]),
      [["request", "r9"]],
    );
  });

  test("with call filters, each matching call's request and completion records", async () => {
    const { text, count } = await exported((out) =>
      exportJsonLines(filled.store, out, { agent: agentRef("reader") }),
    );
    const records = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      records.map((r) => [r.kind, r.requestId]),
      [
        ["request", "r2"],
        ["completion", "r2"],
        ["request", "r4"],
        ["completion", "r4"],
      ],
    );
    assert.equal(count, 4);
  });
});

describe("CSV export", () => {
  test("quotes fields with commas, quotes, CR or LF and doubles the quotes", () => {
    assert.equal(csvField("plain"), "plain");
    assert.equal(csvField("a,b"), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField("two\nlines"), '"two\nlines"');
    assert.equal(csvField("cr\rhere"), '"cr\rhere"');
    assert.equal(csvField(null), "");
    assert.equal(csvField(403), "403");
    assert.equal(csvRow(["a", "b,c"]), 'a,"b,c"\r\n');
  });

  test("one row per call under a header, awkward values round-tripping", async () => {
    const odd: CallSpec = {
      id: "odd",
      at: 0,
      who: "deployer",
      session: "s-odd",
      command: 'kubectl annotate "a,b"\r\nsecond line',
      verb: "patch",
      resource: "configmaps",
      namespace: "team-a",
      name: "x",
      status: 200,
      masked: [{ detector: "iban", path: 'data["a,b"]', count: 2 }],
    };
    const store = await openFilledStore([odd]);
    try {
      const { text, count } = await exported((out) => exportCsv(store.store, out));
      assert.equal(count, 1);
      const [header, row] = parseCsv(text);
      assert.equal(header?.[0], "seq");
      const record = Object.fromEntries((header ?? []).map((name, i) => [name, row?.[i]]));
      assert.equal(record.command, odd.command);
      assert.deepEqual(JSON.parse(record.masked ?? ""), odd.masked);
      assert.equal(record.status, "200");
    } finally {
      await store.close();
    }
  });

  test("a call without completion leaves its completion columns empty", async () => {
    const { text } = await exported((out) =>
      exportCsv(filled.store, out, { sessionId: "s-deploy-2" }),
    );
    const [header, row] = parseCsv(text);
    const record = Object.fromEntries((header ?? []).map((name, i) => [name, row?.[i]]));
    assert.equal(record.requestId, "r9");
    assert.equal(record.status, "");
    assert.equal(record.outcome, "");
  });
});

describe("EventList export", () => {
  let list: { kind: string; apiVersion: string; metadata: object; items: AuditEvent[] };
  let text: string;
  const item = (id: string) => list.items.find((event) => event.auditID === id);

  before(async () => {
    ({ text } = await exported((out) => exportEventList(filled.store, out)));
    list = JSON.parse(text);
  });

  test("is an audit.k8s.io/v1 EventList with one Event per call", () => {
    assert.equal(list.kind, "EventList");
    assert.equal(list.apiVersion, "audit.k8s.io/v1");
    assert.deepEqual(list.metadata, {});
    assert.equal(list.items.length, 9);
  });

  test("maps a completed call: stage, verb, user, objectRef, status, bodies, MicroTime", () => {
    const create = item("r1");
    assert.equal(create?.stage, "ResponseComplete");
    assert.equal(create?.level, "RequestResponse");
    assert.equal(create?.verb, "create");
    assert.equal(create?.requestURI, "/api/v1/namespaces/team-a/configmaps");
    assert.equal(create?.user.username, "portcullis:agent:deployer");
    assert.deepEqual(create?.user.extra?.["portcullis.dev/subject"], ["deployer"]);
    assert.deepEqual(create?.sourceIPs, ["127.0.0.1"]);
    assert.deepEqual(create?.objectRef, {
      resource: "configmaps",
      namespace: "team-a",
      apiVersion: "v1",
    });
    assert.deepEqual(create?.responseStatus, { metadata: {}, code: 201 });
    // The request body was kept as a blob, the response inline: both come back as objects.
    assert.equal((create?.requestObject as { kind?: string } | undefined)?.kind, "ConfigMap");
    assert.equal((create?.responseObject as { kind?: string } | undefined)?.kind, "ConfigMap");
    assert.equal(create?.requestReceivedTimestamp, "2030-01-01T10:00:00.000000Z");
    assert.equal(create?.stageTimestamp, "2030-01-01T10:00:00.250000Z");
  });

  test("carries decision, rule, session, command and masking as string annotations", () => {
    const get = item("r3");
    assert.equal(get?.annotations["portcullis.dev/decision"], "allow");
    assert.equal(get?.annotations["portcullis.dev/rule"], "default");
    assert.equal(get?.annotations["portcullis.dev/session"], "s-deploy");
    assert.equal(get?.annotations["portcullis.dev/kubectl-command"], "kubectl get");
    assert.equal(get?.annotations["portcullis.dev/identity-kind"], "agent");
    assert.deepEqual(JSON.parse(get?.annotations["portcullis.dev/masked"] ?? ""), [
      { count: 1, detector: "card", path: "data.card" },
    ]);
    for (const event of list.items)
      for (const value of Object.values(event.annotations)) assert.equal(typeof value, "string");
  });

  test("refusals carry a Failure status; Metadata level carries no bodies", () => {
    const denied = item("r4");
    assert.equal(denied?.level, "Metadata");
    assert.equal(denied?.requestObject, undefined);
    assert.equal(denied?.responseStatus?.code, 403);
    assert.equal(denied?.responseStatus?.status, "Failure");
    assert.match(denied?.responseStatus?.message ?? "", /no-secrets/);
    const rbac = item("r6");
    assert.equal(rbac?.responseStatus?.reason, "Forbidden");
    assert.equal(rbac?.objectRef?.name, undefined);
  });

  test("a non-resource call has no objectRef and no objects; an unfinished one is RequestReceived", () => {
    const version = item("r8");
    assert.equal(version?.objectRef, undefined);
    assert.equal(version?.responseObject, undefined);
    const logs = item("r9");
    assert.equal(logs?.stage, "RequestReceived");
    assert.equal(logs?.responseStatus, undefined);
    assert.equal(logs?.stageTimestamp, logs?.requestReceivedTimestamp);
  });

  test("passes the strict check against the Kubernetes type", async (t) => {
    if (!hasGo()) return t.skip("no Go toolchain");
    const result = await runAuditCheck(text);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "ok 9 events");
    const tampered = text.replace('"verb":"create"', '"verb":"create","extraField":1');
    const refused = await runAuditCheck(tampered);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /unknown field "extraField"/);
  });
});

describe("streaming", () => {
  let big: FilledStore;
  before(async () => {
    big = await openFilledStore(
      Array.from({ length: 1100 }, (_, i) => ({
        id: `b${i}`,
        at: i,
        who: "deployer",
        session: "s-big",
        verb: "get",
        resource: "configmaps",
        namespace: "ns",
        name: `cm-${i}`,
        status: 200,
      })),
    );
  });
  after(() => big?.close());

  test("waits for a slow reader instead of buffering the export", async () => {
    let peak = 0;
    const slow = new Writable({
      highWaterMark: 4096,
      write(_chunk, _encoding, done) {
        peak = Math.max(peak, slow.writableLength);
        setImmediate(done);
      },
    });
    const count = await exportEventList(big.store, slow);
    assert.equal(count, 1100);
    // Never more than the high-water mark plus one event queued.
    assert.ok(peak < 4096 + 4096, `peak buffered ${peak} bytes`);
  });

  test("fails rather than hangs when the output goes away", async () => {
    let written = 0;
    const broken = new Writable({
      highWaterMark: 1024,
      write(_chunk, _encoding, done) {
        if (++written === 50) broken.destroy(new Error("EPIPE"));
        else setImmediate(done);
      },
    });
    broken.on("error", () => {});
    await assert.rejects(exportCsv(big.store, broken), /EPIPE|closed/);
  });
});
