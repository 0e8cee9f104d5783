/**
 * Port-forward through the gateway. A port-forward is a raw TCP path into a
 * pod, so the gateway neither records nor masks its content; it sees and
 * records each connection (the pod port it opens, bytes each way) and lets a
 * connection through only when the policy allows that pod and port
 * (baseline/port-forward-named-ports: an allow or approve rule must name
 * both). Three transports reach the same endpoint:
 *
 * - `SPDY/3.1+portforward.k8s.io` inside WebSocket messages (kubectl 1.31
 *   and later by default) and a plain SPDY/3.1 upgrade (older kubectl): the
 *   ports are not in the call; each connection names its port when it opens
 *   (src/sessions/spdy-portforward.ts), and is judged then. A refused
 *   connection gets the rule's message on its error stream (kubectl prints
 *   it) and the port-forward ends: frames cannot be dropped from a SPDY
 *   connection without breaking its header compression.
 * - channel-framed WebSocket (`v4.channel.k8s.io`, what client libraries
 *   use): the ports are in the call's query and were judged with it; the
 *   gateway counts bytes per port.
 */
import type { Duplex } from "node:stream";
import type { PortForwardConnection, StreamSummary } from "../audit/record.ts";
import { PortcullisError } from "../errors.ts";
import { portForwardRequest } from "../kube/portforward-request.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { Masked } from "../server/context.ts";
import { offeredProtocols, ProtocolError } from "../sessions/channel-protocol.ts";
import type { LiveCalls } from "../sessions/live.ts";
import {
  decodePortForwardClientFrame,
  negotiatePortForward,
  PortForwardServerReader,
  spdyTunnelProtocol,
} from "../sessions/portforward-protocol.ts";
import { SpdyProtocolError } from "../sessions/spdy.ts";
import { SpdyPortForwardMonitor } from "../sessions/spdy-portforward.ts";
import {
  checkWebSocketUpgrade,
  type MessageVerdict,
  relayWebSocket,
  StreamRefusal,
} from "../sessions/ws-relay.ts";
import { relayUpgrade, upstreamSocketHeaders } from "./forward.ts";
import { registerLiveCall } from "./live-call.ts";
import { streamRefusal } from "./stream-judgement.ts";

/** Connections listed one by one in the completion record; the count has them all. */
const maxListedConnections = 1000;
/**
 * How long a refused port-forward stays open for the client to read why
 * (client-go prints it and closes by itself, normally within milliseconds).
 */
const refusalWaitMs = 2000;
const normalClosure = 1000;

/** Why a connection to `port` may not open, or undefined when it may. */
type PortJudge = (port: number) => string | undefined;

function portJudge(ctx: Masked): PortJudge {
  const judge = ctx.judgePortForward;
  return (port) => {
    // Fail closed: a gateway without the judge (never in the pipeline) opens nothing.
    if (judge === undefined) return "portcullis: the connection could not be judged";
    const refused = streamRefusal(
      ctx,
      judge(port),
      "a connection cannot wait for approval; ask for a grant or an approved port-forward",
    );
    if (refused === undefined) return undefined;
    return `portcullis: rule ${refused.ruleId}: port ${port} of pod ${ctx.requestInfo.namespace}/${ctx.requestInfo.name}: ${refused.why}`;
  };
}

export async function relayPortForward(
  ctx: Masked,
  upstream: Upstream,
  socket: Duplex,
  head: Buffer,
  live?: LiveCalls,
): Promise<void> {
  const upgrade = String(ctx.req.headers.upgrade ?? "").toLowerCase();
  if (upgrade !== "websocket") return relaySpdyUpgrade(ctx, upstream, socket, head, live);
  try {
    checkWebSocketUpgrade(ctx.req);
  } catch (err) {
    if (err instanceof StreamRefusal) throw new PortcullisError("bad_request", err.message);
    throw err;
  }
  const offered = offeredProtocols(ctx.req.headers["sec-websocket-protocol"]);
  const protocol = negotiatePortForward(offered);
  if (protocol === undefined) {
    throw new PortcullisError(
      "bad_request",
      `portcullis: none of the offered subprotocols (${offered.join(", ") || "none"}) is a port-forward protocol`,
    );
  }
  const tracker =
    protocol === spdyTunnelProtocol
      ? spdyTracker(ctx, protocol)
      : channelTracker(
          protocol,
          portForwardRequest(ctx.requestInfo, ctx.req.url ?? "")?.ports ?? [],
        );
  const opened = await relayWebSocket({
    req: ctx.req,
    socket,
    head,
    upstream: upstream.socketTarget(ctx.req.url ?? "/", upstreamSocketHeaders(ctx)),
    protocol,
    hooks: {
      onClientMessage: (data, isBinary) => tracker.fromClient(data, isBinary),
      onServerMessage: (data, isBinary) => {
        ctx.outcome.bytesOut += data.length;
        return tracker.fromServer(data, isBinary);
      },
    },
  });
  if (opened.kind === "refused") {
    ctx.outcome.status = opened.statusCode;
    return;
  }
  ctx.outcome.status = 101;
  const relay = opened.relay;
  tracker.opened({
    sendToClient: (bytes) => relay.send(bytes),
    end: (why) => relay.close(normalClosure, "", why),
  });
  const unregister =
    live &&
    registerLiveCall(live, ctx, "portforward", (reason) => relay.close(normalClosure, "", reason));
  await relay.closed;
  unregister?.();
  ctx.outcome.stream = tracker.summary();
}

/** A plain SPDY/3.1 upgrade: the same SPDY stream as the tunnel, on the raw connection. */
async function relaySpdyUpgrade(
  ctx: Masked,
  upstream: Upstream,
  socket: Duplex,
  head: Buffer,
  live?: LiveCalls,
): Promise<void> {
  const tracker = spdyTracker(ctx, "SPDY/3.1 portforward.k8s.io");
  let endRelay: (() => void) | undefined;
  const relayed = relayUpgrade(ctx, upstream, socket, head, {
    fromClient: (chunk) => asBytes(tracker.fromClient(chunk, true)),
    fromServer: (chunk) => asBytes(tracker.fromServer(chunk, true)),
    opened(control) {
      endRelay = control.end;
      tracker.opened({ sendToClient: control.sendToClient, end: control.end });
    },
  });
  const unregister =
    live &&
    registerLiveCall(live, ctx, "portforward", () => {
      endRelay?.();
    });
  try {
    await relayed;
  } finally {
    unregister?.();
    if (ctx.outcome.status === 101) ctx.outcome.stream = tracker.summary();
  }
}

/** A raw connection has no close frames: a tracker's close ends the connection. */
function asBytes(verdict: MessageVerdict): Buffer | null {
  if (verdict === null || Buffer.isBuffer(verdict)) return verdict;
  if (typeof verdict === "string") return Buffer.from(verdict);
  throw new PortcullisError("bad_request", `portcullis: port-forward ended: ${verdict.reason}`);
}

interface TrackerControl {
  sendToClient(bytes: Buffer): void;
  end(why: string): void;
}

/** Watches one port-forward's messages (or raw chunks) each way. */
interface PortForwardTracker {
  fromClient(data: Buffer, isBinary: boolean): MessageVerdict;
  fromServer(data: Buffer, isBinary: boolean): MessageVerdict;
  opened(control: TrackerControl): void;
  summary(): StreamSummary;
}

function spdyTracker(ctx: Masked, protocol: string): PortForwardTracker {
  const monitor = new SpdyPortForwardMonitor();
  const judge = portJudge(ctx);
  let control: TrackerControl | undefined;
  /** The refused connection: nothing more goes upstream, and the tunnel ends soon. */
  let refused: { requestId: string; port: number; why: string } | undefined;
  /** Refusal bytes for the client, waiting for the server's side to reach a frame boundary. */
  let pending: Buffer[] = [];
  let endTimer: NodeJS.Timeout | undefined;
  /** Each connection's client bytes when the refusal came (later ones were not forwarded). */
  const clientBytesAtRefusal = new Map<string, number>();

  const deliver = () => {
    if (control === undefined || pending.length === 0 || !monitor.serverAtBoundary) return;
    control.sendToClient(Buffer.concat(pending));
    pending = [];
  };
  /**
   * Says why, then ends the tunnel: client-go opens the connection's data
   * stream only once its error stream is answered, and prints the message
   * once the data stream has ended, so both are answered before the end.
   */
  const refuse = () => {
    if (refused === undefined) return;
    const bytes = monitor.refuse(refused.requestId, refused.why);
    if (bytes.length > 0) pending.push(bytes);
    deliver();
  };
  const protocolError = (err: unknown, by: "client" | "upstream"): MessageVerdict => {
    if (!(err instanceof SpdyProtocolError)) throw err;
    return { close: 1002, reason: `SPDY: ${err.message}`, by };
  };

  return {
    fromClient(data) {
      let events: ReturnType<SpdyPortForwardMonitor["fromClient"]>;
      try {
        events = monitor.fromClient(data);
      } catch (err) {
        if (refused) return null;
        return protocolError(err, "client");
      }
      if (refused) {
        refuse();
        return null;
      }
      for (const event of events) {
        if (event.kind !== "connection") continue;
        const why = judge(event.port);
        if (why === undefined) continue;
        refused = { requestId: event.requestId, port: event.port, why };
        // From here no client byte goes upstream: what the record counts stops here.
        for (const c of monitor.connections())
          clientBytesAtRefusal.set(c.requestId, c.bytesFromClient);
        clientBytesAtRefusal.set(event.requestId, 0);
        ctx.outcome.sessionEnded = why;
        refuse();
        const end = () => control?.end(why);
        endTimer = setTimeout(end, refusalWaitMs);
        endTimer.unref();
        // Not a byte of the refused connection (nor what came with it) goes upstream.
        return null;
      }
      return data;
    },
    fromServer(data) {
      try {
        monitor.fromServer(data);
      } catch (err) {
        return protocolError(err, "upstream");
      }
      if (pending.length > 0) queueMicrotask(deliver);
      return data;
    },
    opened(c) {
      control = c;
      deliver();
    },
    summary() {
      clearTimeout(endTimer);
      const all = monitor.connections().map((c): PortForwardConnection => {
        if (refused === undefined) {
          return {
            port: c.port,
            bytesFromClient: c.bytesFromClient,
            bytesFromServer: c.bytesFromServer,
          };
        }
        const forwarded = clientBytesAtRefusal.get(c.requestId);
        return {
          port: c.port,
          bytesFromClient: forwarded ?? 0,
          bytesFromServer: c.bytesFromServer,
          // Opened after the refusal: never forwarded.
          ...(c.refused || forwarded === undefined ? { refused: refused.why } : {}),
        };
      });
      return {
        protocol,
        connections: all.slice(0, maxListedConnections),
        connectionCount: all.length,
        bytesFromClient: all.reduce((n, c) => n + c.bytesFromClient, 0),
        bytesFromServer: all.reduce((n, c) => n + c.bytesFromServer, 0),
      };
    },
  };
}

/** Channel-framed port-forward: one connection per port in the query, judged with the call. */
function channelTracker(protocol: string, ports: readonly number[]): PortForwardTracker {
  const reader = new PortForwardServerReader(protocol, ports);
  const counts = ports.map((port) => ({ port, bytesFromClient: 0, bytesFromServer: 0 }));
  const bad = (err: unknown, by: "client" | "upstream"): MessageVerdict => {
    if (!(err instanceof ProtocolError)) throw err;
    return { close: 1002, reason: err.message, by };
  };
  return {
    fromClient(data, isBinary) {
      try {
        const frame = decodePortForwardClientFrame(protocol, ports, data, isBinary);
        const entry = frame && counts[Math.floor(frame.channel / 2)];
        if (frame && entry) entry.bytesFromClient += frame.payload.length;
      } catch (err) {
        return bad(err, "client");
      }
      return data;
    },
    fromServer(data, isBinary) {
      try {
        const frame = reader.read(data, isBinary);
        const entry = frame && counts[Math.floor(frame.channel / 2)];
        if (frame && entry && frame.kind === "data") entry.bytesFromServer += frame.payload.length;
      } catch (err) {
        return bad(err, "upstream");
      }
      return data;
    },
    opened() {},
    summary() {
      return {
        protocol,
        connections: counts.map((c) => ({ ...c })),
        connectionCount: counts.length,
        bytesFromClient: counts.reduce((n, c) => n + c.bytesFromClient, 0),
        bytesFromServer: counts.reduce((n, c) => n + c.bytesFromServer, 0),
      };
    },
  };
}
