/**
 * Interactive sessions (exec and attach over WebSocket): the gateway ends
 * the stream on both sides (src/sessions/ws-relay.ts) and sees every frame.
 * It records stdin, stdout, stderr and resizes as an asciicast v2 recording,
 * which goes into the call's completion record (so the log's hash chain
 * covers it), and masks stdout and stderr with the call's masking profile,
 * line by line; the recording holds what the client saw.
 *
 * Masking is by line, without holding interactive output back: what a
 * line shows so far goes out at once (a prompt, the echo of a typed key),
 * except a trailing word that a sensitive value could still grow from (it
 * holds a digit or `@`, or is 8 characters long; TextMasker.flushSafePrefix).
 * That word waits for the rest of its value, or for HOLD_MS without more
 * output, longer than the gap between typed keys, so a card number typed
 * key by key is masked whole. Everything held goes out before the session's
 * status. Typed input is recorded through the same masking: the recording
 * never holds a value in clear that the terminal showed masked.
 */
import type { Duplex } from "node:stream";
import { PortcullisError } from "../errors.ts";
import type { Upstream } from "../kube/upstream.ts";
import { TextMasker } from "../masking/text-stream.ts";
import type { Masked } from "../server/context.ts";
import { parseResize } from "../sessions/channel-payloads.ts";
import { Channel } from "../sessions/channel-protocol.ts";
import type { LiveCalls } from "../sessions/live.ts";
import { SessionRecording } from "../sessions/recording/session-recording.ts";
import { StdinLineTracker } from "../sessions/stdin-lines.ts";
import { type ExecSession, relayExecStream, StreamRefusal } from "../sessions/ws-relay.ts";
import { upstreamSocketHeaders } from "./forward.ts";
import { registerLiveCall } from "./live-call.ts";
import { streamRefusal } from "./stream-judgement.ts";

const HOLD_MS = 1000;

/**
 * What the gateway can see of an upgrade: `exec` (exec or attach over
 * WebSocket: every frame, recorded and masked), `portforward` (over
 * WebSocket or SPDY: each connection's port and byte counts), or
 * `uninspectable` (exec or attach over SPDY, proxy upgrades): refused unless
 * a rule lets it pass unrecorded.
 */
export type StreamKind = "exec" | "portforward" | "uninspectable";

export function streamKind(ctx: Pick<Masked, "requestInfo" | "req">): StreamKind {
  const info = ctx.requestInfo;
  const upgrade = String(ctx.req.headers.upgrade ?? "").toLowerCase();
  if (info.resource !== "pods") return "uninspectable";
  if ((info.subresource === "exec" || info.subresource === "attach") && upgrade === "websocket") {
    return "exec";
  }
  if (info.subresource === "portforward" && (upgrade === "websocket" || upgrade === "spdy/3.1")) {
    return "portforward";
  }
  return "uninspectable";
}

export interface SessionOptions {
  live?: LiveCalls;
  /** Largest recording kept per session (audit.maxRecordingBytes). */
  maxRecordingBytes: number;
}

export async function relaySession(
  ctx: Masked,
  upstream: Upstream,
  socket: Duplex,
  head: Buffer,
  options: SessionOptions,
): Promise<void> {
  const live = options.live;
  const recorder = new SessionRecording({
    maxBytes: options.maxRecordingBytes,
    startedAt: Date.now(),
    command: ctx.req.url ?? "",
  });
  const masking = ctx.sessionMasking;
  const maskers = masking
    ? new Map(
        [Channel.stdout, Channel.stderr].map((channel) => [
          channel,
          new TextMasker(masking.profile.engine, {
            onFinding: (detector) =>
              masking.tally.add(
                detector,
                channel === Channel.stdout ? "exec.stdout" : "exec.stderr",
              ),
          }),
        ]),
      )
    : undefined;
  /** Typed input, masked like output before it is recorded (stdin itself goes upstream as typed). */
  const inputMasker = masking
    ? new TextMasker(masking.profile.engine, {
        onFinding: (detector) => masking.tally.add(detector, "exec.stdin"),
      })
    : undefined;
  const recordInput = (chunks: Buffer[]) => {
    const data = Buffer.concat(chunks);
    if (data.length > 0) recorder.input(data, Date.now());
  };
  let session: ExecSession | undefined;
  const judge = ctx.judgeTypedLine;
  const typed = judge ? new StdinLineTracker() : undefined;
  /** A refusal of a typed line: the line is not delivered and the session ends. */
  const refuseLine = (stdin: Buffer): string | undefined => {
    if (!typed || !judge) return undefined;
    for (const line of typed.push(stdin)) {
      const refused = streamRefusal(ctx, judge(line), "a typed line cannot wait for approval");
      if (refused === undefined) continue;
      return `portcullis: rule ${refused.ruleId}: ${refused.why}; the session is ended (typed: ${JSON.stringify(line.text)})`;
    }
    return undefined;
  };
  let flushTimer: NodeJS.Timeout | undefined;
  const output = (channel: number, data: Buffer) => {
    recorder.output(data, Date.now(), channel === Channel.stderr ? "stderr" : "stdout");
    ctx.outcome.bytesOut += data.length;
  };
  /** Sends what the maskers hold (the ends of partial lines) as frames of their own. */
  const flush = () => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    for (const [channel, masker] of maskers ?? []) {
      const held = Buffer.concat(masker.end());
      if (held.length === 0) continue;
      output(channel, held);
      session?.sendToClient(channel, held);
    }
    if (inputMasker) recordInput(inputMasker.end());
  };

  let opened: Awaited<ReturnType<typeof relayExecStream>>;
  try {
    opened = await relayExecStream({
      req: ctx.req,
      socket,
      head,
      upstream: upstream.socketTarget(ctx.req.url ?? "/", upstreamSocketHeaders(ctx)),
      hooks: {
        onClientFrame(channel, payload) {
          if (channel === Channel.stdin) {
            if (inputMasker) {
              recordInput([...inputMasker.push(payload), ...inputMasker.flushSafePrefix()]);
              if (flushTimer) clearTimeout(flushTimer);
              flushTimer = setTimeout(flush, HOLD_MS);
            } else {
              recorder.input(payload, Date.now());
            }
            const refusal = refuseLine(payload);
            if (refusal !== undefined) {
              recorder.marker(refusal, Date.now());
              ctx.outcome.sessionEnded = refusal;
              // Deferred: the relay is still handling this frame.
              queueMicrotask(() => session?.kill(refusal));
              return null;
            }
          }
          if (channel === Channel.resize) {
            for (const size of safeResize(payload)) {
              recorder.resize(size.width, size.height, Date.now());
            }
          }
          return payload;
        },
        onServerFrame(channel, payload) {
          if (channel !== Channel.stdout && channel !== Channel.stderr) {
            // The status (error channel) ends the session: held output first.
            flush();
            return payload;
          }
          const masker = maskers?.get(channel);
          const shown = masker
            ? Buffer.concat([...masker.push(payload), ...masker.flushSafePrefix()])
            : payload;
          if (masker) {
            if (flushTimer) clearTimeout(flushTimer);
            flushTimer = setTimeout(flush, HOLD_MS);
          }
          if (shown.length === 0) return null;
          output(channel, shown);
          return shown;
        },
      },
    });
  } catch (err) {
    if (err instanceof StreamRefusal) throw new PortcullisError("bad_request", err.message);
    throw err;
  }
  if (opened.kind === "refused") {
    ctx.outcome.status = opened.statusCode;
    return;
  }
  session = opened.session;
  ctx.outcome.status = 101;
  const open = session;
  const unregister =
    live &&
    registerLiveCall(live, ctx, ctx.requestInfo.subresource, (reason) => {
      recorder.marker(reason, Date.now());
      open.kill(reason);
    });
  await session.closed;
  unregister?.();
  // The client is gone: what is still held goes into the recording only.
  if (flushTimer) clearTimeout(flushTimer);
  for (const [channel, masker] of maskers ?? []) {
    const held = Buffer.concat(masker.end());
    if (held.length > 0) output(channel, held);
  }
  if (inputMasker) recordInput(inputMasker.end());
  ctx.outcome.recording = recorder.finish();
}

function safeResize(payload: Buffer): Array<{ width: number; height: number }> {
  try {
    return parseResize(payload).filter((s) => s.width > 0 && s.height > 0);
  } catch {
    return [];
  }
}
