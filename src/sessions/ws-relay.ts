/**
 * Terminates an exec or attach WebSocket on both sides: the client's upgrade
 * is accepted here and a second WebSocket is opened to the API server, so
 * every channel frame (./channel-protocol.ts) passes through hooks that may
 * change, drop or end it. Reads from one side pause while the other side's
 * send buffer is above a high-water mark. A close on either side closes the
 * other with the same code; an abnormal end terminates the other side.
 *
 * The upstream is opened first, offering exactly the subprotocol the client
 * would get from the apiserver; the client is upgraded only once it is open,
 * so an upstream refusal (RBAC's 403 Status, say) reaches the client as the
 * same HTTP answer.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket, { WebSocketServer } from "ws";
import { PortcullisError, ReasonedError } from "../errors.ts";
import { forwardableResponseHeaders } from "../kube/headers.ts";
import { serializeResponseHead } from "../server/raw-response.ts";
import {
  Channel,
  decodeFrame,
  encodeFrame,
  negotiate,
  offeredProtocols,
  type Protocol,
  protocolVersion,
} from "./channel-protocol.ts";

/** How to reach the API server's exec or attach endpoint as the caller. */
export interface UpstreamSocketTarget {
  /** `wss://host/api/v1/namespaces/NS/pods/POD/exec?...` */
  url: string;
  /** Authorization, impersonation, audit id; not the WebSocket handshake headers. */
  headers: Record<string, string | string[]>;
  ca?: string;
  cert?: string;
  key?: string;
}

export type RelayInitiator = "client" | "upstream" | "gateway";

export interface RelayCloseInfo {
  code: number;
  reason: string;
  initiator: RelayInitiator;
}

export interface ExecRelayHooks {
  /** stdin, resize, v5 close frames: the payload to send on, null to drop, "close" to end the session. */
  onClientFrame?(channel: number, payload: Buffer): Buffer | null | "close";
  /** stdout, stderr, error: the payload to send on, or null to drop. */
  onServerFrame?(channel: number, payload: Buffer): Buffer | null;
  /** Once, after both sides have closed; the code and reason are the first close's. */
  onClose?(info: RelayCloseInfo): void;
}

export interface ExecRelayOptions {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  upstream: UpstreamSocketTarget;
  hooks?: ExecRelayHooks;
  /** Bytes buffered toward one side before the other side's reads pause. Default 1 MiB. */
  highWaterMark?: number;
  handshakeTimeoutMs?: number;
}

export interface ExecSession {
  protocol: Protocol;
  /** Ends both sides, telling the client why on stderr and the error channel. */
  kill(reason: string): void;
  closed: Promise<RelayCloseInfo>;
  /** Sends a frame of the gateway's own to the client (output a hook held back). */
  sendToClient(channel: number, payload: Buffer | string): void;
}

/** The client now has either an open session or the upstream's HTTP refusal. */
export type ExecRelayResult =
  | { kind: "open"; session: ExecSession }
  | { kind: "refused"; statusCode: number };

export type StreamRefusalReason = "spdy" | "port_forward" | "no_protocol" | "not_websocket";

/** An upgrade this relay does not take; the client socket is untouched, for the caller's Status. */
export class StreamRefusal extends ReasonedError<StreamRefusalReason> {
  constructor(reason: StreamRefusalReason, message: string) {
    super("StreamRefusal", "bad_request", reason, message);
  }
}

const defaultHighWaterMark = 1 << 20;
const maxRefusalBytes = 1 << 20;
const normalClosure = 1000;
const abnormalClosure = 1006;

/**
 * Relays one exec or attach upgrade. Throws a StreamRefusal for an upgrade
 * it cannot inspect and an upstream_unavailable PortcullisError when the API
 * server cannot be reached, both before the client socket is written to.
 */
export async function relayExecStream(options: ExecRelayOptions): Promise<ExecRelayResult> {
  const protocol = acceptedProtocol(options.req);
  const hooks = options.hooks ?? {};
  /** Decodes a channel frame and passes it through the hook; an undecodable frame ends the session. */
  const onMessage =
    (fromClient: boolean) =>
    (raw: Buffer, isBinary: boolean): MessageVerdict => {
      let frame: ReturnType<typeof decodeFrame>;
      try {
        frame = decodeFrame(protocol, raw, isBinary);
      } catch (err) {
        return {
          close: 1002,
          reason: (err as Error).message,
          by: fromClient ? "client" : "upstream",
        };
      }
      if (!frame) return null;
      const { channel, payload } = frame;
      const hook = fromClient ? hooks.onClientFrame : hooks.onServerFrame;
      const result = hook ? hook(channel, payload) : payload;
      if (result === "close") return { close: normalClosure, reason: "", by: "gateway" };
      if (result === payload) return raw; // unchanged: no re-encoding
      return result === null ? null : encodeFrame(protocol, channel, result);
    };
  const opened = await relayWebSocket({
    req: options.req,
    socket: options.socket,
    head: options.head,
    upstream: options.upstream,
    protocol,
    hooks: {
      onClientMessage: onMessage(true),
      onServerMessage: onMessage(false),
      ...(hooks.onClose ? { onClose: hooks.onClose } : {}),
    },
    ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
    ...(options.handshakeTimeoutMs !== undefined
      ? { handshakeTimeoutMs: options.handshakeTimeoutMs }
      : {}),
  });
  if (opened.kind === "refused") return opened;
  const relay = opened.relay;

  function kill(reason: string): void {
    if (relay.ended) return;
    if (requested(options.req, "stderr")) {
      relay.send(encodeFrame(protocol, Channel.stderr, `${reason}\n`));
    }
    relay.send(encodeFrame(protocol, Channel.error, errorChannelPayload(protocol, reason)));
    relay.close(normalClosure, "", reason);
  }

  function sendToClient(channel: number, payload: Buffer | string): void {
    relay.send(encodeFrame(protocol, channel, payload));
  }

  return { kind: "open", session: { protocol, kill, closed: relay.closed, sendToClient } };
}

/** The subprotocol the apiserver would pick, or a refusal naming what is wrong. */
function acceptedProtocol(req: IncomingMessage): Protocol {
  const upgrade = String(req.headers.upgrade ?? "").toLowerCase();
  if (upgrade.startsWith("spdy/")) {
    throw new StreamRefusal(
      "spdy",
      "portcullis: SPDY streams cannot be inspected; use a kubectl from 1.30 on, which execs over WebSockets",
    );
  }
  const path = new URL(req.url ?? "/", "http://gateway").pathname;
  if (path.endsWith("/portforward")) {
    throw new StreamRefusal("port_forward", "portcullis: port-forward is not an exec stream");
  }
  checkWebSocketUpgrade(req);
  const offered = offeredProtocols(req.headers["sec-websocket-protocol"]);
  const protocol = negotiate(offered);
  if (!protocol) {
    throw new StreamRefusal(
      "no_protocol",
      `portcullis: none of the offered subprotocols (${offered.join(", ") || "none"}) is a remote-command protocol`,
    );
  }
  return protocol;
}

/** Throws a StreamRefusal unless this is a well-formed WebSocket version 13 handshake. */
export function checkWebSocketUpgrade(req: IncomingMessage): void {
  const upgrade = String(req.headers.upgrade ?? "").toLowerCase();
  const key = req.headers["sec-websocket-key"];
  if (
    upgrade !== "websocket" ||
    req.method !== "GET" ||
    req.headers["sec-websocket-version"] !== "13" ||
    typeof key !== "string" ||
    !/^[+/0-9A-Za-z]{22}==$/.test(key)
  ) {
    throw new StreamRefusal("not_websocket", "portcullis: not a WebSocket version 13 upgrade");
  }
}

/**
 * What a message hook decides: the bytes to send on (the same Buffer when
 * unchanged), null to drop the message, or to end the session with a close.
 */
export type MessageVerdict =
  | Buffer
  | string
  | null
  | { close: number; reason: string; by: RelayInitiator };

export interface WebSocketRelayHooks {
  onClientMessage?(data: Buffer, isBinary: boolean): MessageVerdict;
  onServerMessage?(data: Buffer, isBinary: boolean): MessageVerdict;
  /** Once, after both sides have closed; the code and reason are the first close's. */
  onClose?(info: RelayCloseInfo): void;
}

export interface WebSocketRelayOptions {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  upstream: UpstreamSocketTarget;
  /** The subprotocol to ask upstream for and to accept from the client (already negotiated). */
  protocol: string;
  hooks?: WebSocketRelayHooks;
  /** Bytes buffered toward one side before the other side's reads pause. Default 1 MiB. */
  highWaterMark?: number;
  handshakeTimeoutMs?: number;
}

/** Two joined WebSockets, as the gateway sees them. */
export interface WebSocketRelay {
  protocol: string;
  closed: Promise<RelayCloseInfo>;
  /** The session is ending or over: nothing more is relayed. */
  readonly ended: boolean;
  /** True when the client's send buffer is empty (what was sent has been written out). */
  readonly clientDrained: boolean;
  /** Sends a message of the gateway's own to the client (binary unless a string). */
  send(data: Buffer | string): void;
  /** Ends both sides with this close; `why` is what the close info records. */
  close(code: number, reason: string, why?: string): void;
}

export type WebSocketRelayResult =
  | { kind: "open"; relay: WebSocketRelay }
  | { kind: "refused"; statusCode: number };

/**
 * Relays one WebSocket upgrade message by message: the upstream first (so
 * its HTTP refusal reaches the client as is), then the client's handshake,
 * then both joined. Throws an upstream_unavailable PortcullisError when the
 * API server cannot be reached, before the client socket is written to.
 */
export async function relayWebSocket(
  options: WebSocketRelayOptions,
): Promise<WebSocketRelayResult> {
  const upstream = await openUpstream(options, options.protocol);
  if (upstream.kind === "refused") {
    relayRefusal(options.socket, upstream.response, upstream.body);
    return { kind: "refused", statusCode: upstream.response.statusCode ?? 502 };
  }
  const client = await acceptClient(options, upstream.socket);
  return { kind: "open", relay: joinSockets(options, client, upstream.socket) };
}

type UpstreamAnswer =
  | { kind: "open"; socket: WebSocket }
  | { kind: "refused"; response: IncomingMessage; body: Buffer };

/**
 * `ws` accepts only RFC 7230 tokens as subprotocols, and the SPDY tunnel's
 * name (`SPDY/3.1+portforward.k8s.io`) has a `/`. Such a name is sent as a
 * plain header upstream, and checked and removed from the answer before
 * `ws` looks at it (its `upgrade` event comes first); toward the client it
 * is swapped for a token during the handshake and back in the answer's
 * header lines (the server's `headers` event).
 */
const tokenPattern = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;
const placeholderProtocol = "portcullis.placeholder";

function openUpstream(options: WebSocketRelayOptions, protocol: string): Promise<UpstreamAnswer> {
  const { upstream } = options;
  const token = tokenPattern.test(protocol);
  const socket = new WebSocket(upstream.url, token ? [protocol] : [], {
    headers: token ? upstream.headers : { ...upstream.headers, "sec-websocket-protocol": protocol },
    perMessageDeflate: false,
    handshakeTimeout: options.handshakeTimeoutMs ?? 30_000,
    ...(upstream.ca ? { ca: upstream.ca } : {}),
    ...(upstream.cert ? { cert: upstream.cert } : {}),
    ...(upstream.key ? { key: upstream.key } : {}),
  });
  if (!token) {
    socket.once("upgrade", (response: IncomingMessage) => {
      // Accepted only as exactly the name asked for; anything else is left
      // for ws to refuse ("a subprotocol but none was requested").
      if (response.headers["sec-websocket-protocol"] === protocol) {
        delete response.headers["sec-websocket-protocol"];
      }
    });
  }
  return new Promise((resolve, reject) => {
    const unreachable = (err: Error) => {
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      reject(
        new PortcullisError(
          "upstream_unavailable",
          `portcullis: cannot reach the Kubernetes API server (${code})`,
          { cause: err },
        ),
      );
    };
    socket.once("error", unreachable);
    socket.once("open", () => {
      // Nothing is read until the client is upgraded and listening (joinSockets).
      socket.pause();
      socket.off("error", unreachable);
      // From here errors are followed by a close (1006), which is where they are handled.
      socket.on("error", () => {});
      resolve({ kind: "open", socket });
    });
    socket.once("unexpected-response", (_request, response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxRefusalBytes) chunks.push(chunk);
      });
      response.once("error", unreachable);
      response.once("end", () =>
        resolve({ kind: "refused", response, body: Buffer.concat(chunks) }),
      );
    });
  });
}

/** The upstream's non-101 answer, as HTTP on the client's socket, which then closes. */
function relayRefusal(client: Duplex, response: IncomingMessage, body: Buffer): void {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(forwardableResponseHeaders(response.headers))) {
    if (name === "content-length" || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [String(value)]) raw.push(name, v);
  }
  raw.push("content-length", String(body.length), "connection", "close");
  const head = serializeResponseHead(response.statusCode ?? 502, response.statusMessage, raw);
  if (!client.destroyed) client.end(Buffer.concat([head, body]));
}

/** The subprotocol each accepted handshake gets, chosen before the handshake. */
const chosenProtocols = new WeakMap<IncomingMessage, string>();

/** Accepts client handshakes only; it never listens. */
const clientHandshakes = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  handleProtocols: (_offered, req) => (chosenProtocols.has(req) ? placeholderProtocol : false),
});
clientHandshakes.on("headers", (lines: string[], req: IncomingMessage) => {
  const protocol = chosenProtocols.get(req);
  if (protocol === undefined) return;
  const at = lines.indexOf(`Sec-WebSocket-Protocol: ${placeholderProtocol}`);
  if (at >= 0) lines[at] = `Sec-WebSocket-Protocol: ${protocol}`;
});

function acceptClient(options: WebSocketRelayOptions, upstream: WebSocket): Promise<WebSocket> {
  const { socket } = options;
  chosenProtocols.set(options.req, options.protocol);
  // ws parses the offer before asking handleProtocols; a name that is not a
  // token would fail that parse, so the offer it sees is the placeholder.
  options.req.headers["sec-websocket-protocol"] = placeholderProtocol;
  return new Promise((resolve, reject) => {
    // ws drops a socket that closed before the handshake without calling back.
    const gone = () => {
      upstream.terminate();
      reject(Object.assign(new Error("client closed the connection"), { code: "ECONNRESET" }));
    };
    if (socket.destroyed || !socket.readable || !socket.writable) return gone();
    socket.once("close", gone);
    clientHandshakes.handleUpgrade(options.req, socket, options.head, (client) => {
      socket.off("close", gone);
      resolve(client);
    });
  });
}

/** Wires two open sockets together; the session lives until both have closed. */
function joinSockets(
  options: WebSocketRelayOptions,
  client: WebSocket,
  upstream: WebSocket,
): WebSocketRelay {
  const hooks = options.hooks ?? {};
  const highWaterMark = options.highWaterMark ?? defaultHighWaterMark;
  let first: RelayCloseInfo | undefined;
  let open = 2;
  let resolveClosed: (info: RelayCloseInfo) => void = () => {};
  const closed = new Promise<RelayCloseInfo>((resolve) => {
    resolveClosed = resolve;
  });

  /** Sends toward `to`; pauses `from` while `to` is backed up, resumes once it drains. */
  function forward(from: WebSocket, to: WebSocket, data: Buffer | string, binary: boolean): void {
    if (to.readyState !== WebSocket.OPEN) return;
    to.send(data, { binary }, () => {
      if (from.isPaused && to.bufferedAmount <= highWaterMark / 2) from.resume();
    });
    if (to.bufferedAmount > highWaterMark) from.pause();
  }

  function end(initiator: RelayInitiator, code: number, reason: string): void {
    first ??= { code, reason, initiator };
    for (const side of [client, upstream]) closeWith(side, code, reason);
  }

  function relay(from: WebSocket, to: WebSocket, fromClient: boolean) {
    return function onMessage(data: WebSocket.RawData, isBinary: boolean): void {
      if (first) return;
      const raw = data as Buffer;
      const hook = fromClient ? hooks.onClientMessage : hooks.onServerMessage;
      const verdict = hook ? hook(raw, isBinary) : raw;
      if (verdict === null) return;
      if (typeof verdict === "string" || Buffer.isBuffer(verdict)) {
        forward(from, to, verdict, isBinary);
      } else end(verdict.by, verdict.close, verdict.reason);
    };
  }

  function onClose(side: RelayInitiator, other: WebSocket) {
    return function closedSide(code: number, reason: Buffer): void {
      first ??= { code, reason: reason.toString(), initiator: side };
      if (code === abnormalClosure) other.terminate();
      else closeWith(other, code, reason.toString());
      if (--open === 0) {
        hooks.onClose?.(first);
        resolveClosed(first);
      }
    };
  }

  client.on("message", relay(client, upstream, true));
  upstream.on("message", relay(upstream, client, false));
  client.on("close", onClose("client", upstream));
  upstream.on("close", onClose("upstream", client));
  // Errors are followed by a close (1006), which is where they are handled.
  client.on("error", () => {});
  // Paused since it opened; a connection lost meanwhile ends the session at once.
  if (upstream.readyState === WebSocket.CLOSED)
    onClose("upstream", client)(abnormalClosure, Buffer.alloc(0));
  else upstream.resume();

  return {
    protocol: options.protocol,
    closed,
    get ended() {
      return first !== undefined;
    },
    get clientDrained() {
      return client.bufferedAmount === 0;
    },
    send(data) {
      if (first || client.readyState !== WebSocket.OPEN) return;
      client.send(data);
    },
    close(code, reason, why = reason) {
      if (first) return;
      first = { code, reason: why, initiator: "gateway" };
      end("gateway", code, reason);
    },
  };
}

/** Closes with `code` where the protocol allows sending it; 1005 and 1006 cannot be sent. */
function closeWith(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) return;
  if (code === abnormalClosure) {
    socket.terminate();
    return;
  }
  // A paused socket would never read the peer's answering close frame.
  if (socket.isPaused) socket.resume();
  const sendable =
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005) ||
    (code >= 3000 && code <= 4999);
  if (sendable) socket.close(code, closeReason(reason));
  else socket.close();
}

/** A close reason fits in 123 bytes of UTF-8; cut at a character boundary. */
function closeReason(reason: string): string {
  let text = reason;
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1);
  return text;
}

/** A v4+ Failure Status (kubectl prints its message), or the bare text before v4. */
function errorChannelPayload(protocol: Protocol, reason: string): string {
  if (protocolVersion(protocol) < 4) return reason;
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: reason,
    reason: "Forbidden",
    code: 403,
  });
}

/** Whether the exec asked for a stream (`stderr=true`); kubectl logs frames on unopened ones. */
function requested(req: IncomingMessage, stream: "stdin" | "stdout" | "stderr"): boolean {
  const value = new URL(req.url ?? "/", "http://gateway").searchParams.get(stream);
  return value === "true" || value === "1";
}
