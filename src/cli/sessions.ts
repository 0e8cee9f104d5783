/**
 * `portcullis sessions list|show`: who worked when, and one session's
 * timeline — each kubectl command, the calls it made, what policy decided,
 * what the API server answered and what masking changed.
 */
import { Command, Option } from "commander";
import {
  type CallView,
  listSessions,
  type SessionSummary,
  type SessionTimeline,
  sessionTimeline,
} from "../audit/query.ts";
import type { BodyRef } from "../audit/record.ts";
import type { AuditStore } from "../audit/store/store.ts";
import type { LiveCallView } from "../sessions/live.ts";
import { playAsciicast } from "../sessions/recording/player.ts";
import { target } from "./audit-query.ts";
import {
  agentFromOptions,
  renderTable,
  shortTime,
  type TimeRangeOptions,
  timeRange,
  withStore,
  withTimeRangeOptions,
} from "./audit-read.ts";
import { type ClientOptions, call, withClientOptions } from "./gateway-api.ts";
import { type CommonOptions, withConfigOptions } from "./options.ts";

interface ListOptions extends CommonOptions, TimeRangeOptions {
  agent?: string;
  user?: string;
  output: "table" | "json";
}

export function sessionsTable(sessions: SessionSummary[]): string {
  return renderTable(
    ["SESSION", "USER", "KIND", "FIRST", "LAST", "CALLS", "REFUSED", "COMMANDS"],
    sessions.map((s) => [
      s.id,
      s.username,
      s.kind,
      shortTime(s.first),
      shortTime(s.last),
      String(s.calls),
      String(s.refusals),
      s.commands.join(", ") || "-",
    ]),
  );
}

async function list(options: ListOptions): Promise<void> {
  const agent = agentFromOptions(options);
  const query = {
    ...timeRange(options),
    ...(agent ? { agent } : {}),
    ...(options.user ? { username: options.user } : {}),
  };
  const sessions = await withStore(options, (store) => listSessions(store, query));
  if (options.output === "json") process.stdout.write(`${JSON.stringify(sessions, null, 2)}\n`);
  else if (sessions.length === 0) process.stderr.write("no sessions in this range\n");
  else process.stdout.write(sessionsTable(sessions));
}

function masked(call: CallView): string {
  return call.masked.map((m) => `${m.detector} at ${m.path} ×${m.count}`).join(", ");
}

/** The time of day with milliseconds: calls within one command are often a few ms apart. */
const clock = (iso: string) => iso.slice(11, 23);

/** A readable timeline: a heading per kubectl invocation, then its calls as aligned rows. */
export function renderTimeline({ session, calls }: SessionTimeline): string {
  const lines = [
    `Session ${session.id}`,
    `  user:     ${session.username} (${session.kind})`,
    `  period:   ${session.first} → ${session.last}`,
    `  calls:    ${session.calls}, ${session.refusals} refused, ${session.invocations} kubectl invocations`,
    "",
  ];
  const rows = renderTable(
    ["", "TIME", "VERB", "RESOURCE", "NAMESPACE/NAME", "DECISION", "STATUS", "MASKED"],
    calls.map((call) => [
      "",
      clock(call.time),
      call.verb,
      call.resource || call.path,
      target(call),
      call.decision === "allow" ? call.decision : `${call.decision} (${call.rule})`,
      call.status === null ? "(no completion)" : `${call.status} ${call.outcome}`,
      masked(call) || "-",
    ]),
  ).split("\n");
  lines.push(rows[0] ?? "");
  let previous: string | undefined;
  calls.forEach((call, i) => {
    const group = call.invocation || call.command || "";
    if (group !== previous) {
      lines.push(`${call.time}  ${call.command || "(no kubectl command)"}`);
      previous = group;
    }
    lines.push(rows[i + 1] ?? "");
  });
  return `${lines.join("\n")}\n`;
}

async function show(id: string, options: CommonOptions & { output: "text" | "json" }) {
  const timeline = await withStore(options, (store) => sessionTimeline(store, id));
  if (!timeline) throw new Error(`no session ${id} in the audit log`);
  if (options.output === "json") process.stdout.write(`${JSON.stringify(timeline, null, 2)}\n`);
  else process.stdout.write(renderTimeline(timeline));
}

/**
 * The recordings to play for `id`: one call's (a request id), or every
 * recorded call of a session (a session id), oldest first.
 */
async function recordingsOf(store: AuditStore, id: string): Promise<string[]> {
  const requestIds = id.startsWith("s-")
    ? (await store.search({ sessionId: id, kind: "request", limit: 10_000 })).map(
        (row) => (JSON.parse(row.body) as { requestId: string }).requestId,
      )
    : [id];
  const rows = [];
  for (const requestId of requestIds) {
    rows.push(...(await store.search({ requestId, kind: "completion" })));
  }
  const texts: string[] = [];
  for (const row of rows) {
    const ref = (JSON.parse(row.body) as { recording?: BodyRef }).recording;
    if (ref === undefined) continue;
    const text = ref.text ?? (await store.getBlob(ref.sha256))?.toString("utf8");
    if (text === undefined)
      throw new Error(`the recording of ${id} (blob ${ref.sha256}) is missing`);
    texts.push(text);
  }
  return texts;
}

async function play(id: string, options: CommonOptions & { speed: string; idleLimit?: string }) {
  const speed = Number(options.speed);
  if (!(speed > 0)) throw new Error(`--speed ${options.speed}: a positive number`);
  const texts = await withStore(options, (store) => recordingsOf(store, id));
  if (texts.length === 0) throw new Error(`no recorded exec or attach session for ${id}`);
  for (const text of texts) {
    await playAsciicast(text, {
      speed,
      ...(options.idleLimit ? { maxIdleSeconds: Number(options.idleLimit) } : {}),
      write: (s) => process.stdout.write(s),
      isTTY: process.stdout.isTTY === true,
    });
  }
}

export function sessionsCommand(): Command {
  const sessions = new Command("sessions").description(
    "list sessions (one credential's calls with no long idle gap) and show one session's timeline",
  );
  const listCommand = sessions
    .command("list")
    .description("list sessions with their user, period, calls, kubectl commands and refusals")
    .addOption(new Option("--agent <name>", "sessions of this agent"))
    .addOption(
      new Option("--user <username>", "sessions of this Kubernetes username").conflicts("agent"),
    )
    .addOption(
      new Option("-o, --output <format>", "output format")
        .choices(["table", "json"])
        .default("table"),
    );
  withConfigOptions(withTimeRangeOptions(listCommand, "7d"))
    .addHelpText(
      "after",
      `
Examples:
  $ portcullis sessions list
  $ portcullis sessions list --agent deployer --since 24h
  $ portcullis sessions list --from 2030-01-01T00:00:00Z --to 2030-01-08T00:00:00Z -o json`,
    )
    .action(list);
  withConfigOptions(
    sessions
      .command("show <id>")
      .description(
        "show one session's timeline: each command, its calls, decisions, statuses and masking",
      )
      .addOption(
        new Option("-o, --output <format>", "output format")
          .choices(["text", "json"])
          .default("text"),
      ),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ portcullis sessions show s-1f2e3d4c5b6a7988
  $ portcullis sessions show s-1f2e3d4c5b6a7988 -o json`,
    )
    .action(show);
  withConfigOptions(
    sessions
      .command("play <id>")
      .description(
        "play back recorded exec/attach sessions in the terminal: one call (request id) or all of a session's (s-…)",
      )
      .addOption(new Option("--speed <factor>", "playback speed (2 = twice as fast)").default("1"))
      .addOption(new Option("--idle-limit <seconds>", "cap pauses at this many seconds")),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ portcullis sessions play s-1f2e3d4c5b6a7988
  $ portcullis sessions play 0f0a3c1e-6b6a-4c47-9a55-4f3b7d7a1d2e --speed 4 --idle-limit 1

The recording holds what the client saw (masked output included); its
SHA-256 is in the call's completion record, under the log's integrity.`,
    )
    .action(play);
  withClientOptions(
    sessions
      .command("live")
      .description(
        "the streams and watches open through the gateway now (exec, attach, watch, logs -f)",
      )
      .addOption(
        new Option("-o, --output <format>", "output format")
          .choices(["table", "json"])
          .default("table"),
      ),
  ).action(async (options: ClientOptions & { output: "table" | "json" }) => {
    const { items } = await call<{ items: LiveCallView[] }>(options, "GET", "sessions");
    if (options.output === "json") process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    else if (items.length === 0) process.stderr.write("nothing open\n");
    else {
      process.stdout.write(
        `${renderTable(
          ["REQUEST", "USER", "KIND", "TARGET", "SINCE"],
          items.map((c) => [c.requestId, c.username, c.kind, c.target, c.startedAt]),
        )}\n`,
      );
    }
  });
  withClientOptions(
    sessions
      .command("kill [request-id]")
      .description("end an open stream or watch at once, or everything a user has open (--user)")
      .addOption(new Option("--user <username>", "end every stream and watch of this user"))
      .requiredOption("--reason <text>", "why: shown to the client and recorded"),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ portcullis sessions live --kubeconfig alice.kubeconfig
  $ portcullis sessions kill 0f0a3c1e-6b6a-4c47-9a55-4f3b7d7a1d2e --reason "runaway agent" --kubeconfig alice.kubeconfig
  $ portcullis sessions kill --user portcullis:agent:deployer --reason "token leaked" --kubeconfig alice.kubeconfig`,
    )
    .action(
      async (
        requestId: string | undefined,
        options: ClientOptions & { user?: string; reason: string },
      ) => {
        if ((requestId === undefined) === (options.user === undefined)) {
          throw new Error("name a request id or --user, not both");
        }
        const { ended } = await call<{ ended: number }>(options, "POST", "sessions/kill", {
          reason: options.reason,
          ...(requestId ? { requestId } : { username: options.user }),
        });
        process.stdout.write(`ended ${ended} open call${ended === 1 ? "" : "s"}\n`);
        if (ended === 0) process.exitCode = 1;
      },
    );
  return sessions;
}
