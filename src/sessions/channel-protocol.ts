/**
 * The Kubernetes channel WebSocket protocol that exec and attach speak
 * (k8s.io/apimachinery util/httpstream/wsstream and util/remotecommand):
 * every WebSocket message is one frame, a channel number followed by that
 * channel's bytes.
 *
 * - Binary subprotocols (`v5.channel.k8s.io`, `v4.channel.k8s.io`,
 *   `channel.k8s.io`): binary messages, the first byte is the channel.
 * - Base64 subprotocols (`v4.base64.channel.k8s.io`, `base64.channel.k8s.io`):
 *   text messages, the first character is the channel as an ASCII digit
 *   ('0' + channel) and the rest is the payload in standard base64. There is
 *   no v5 base64 variant.
 * - v4 adds a JSON metav1.Status on the error channel (exit code in its
 *   causes); before v4 that channel carries plain text, and nothing on success.
 * - v5 adds channel 255: a one-byte payload naming the channel being closed
 *   (half-close of stdin, which WebSockets cannot otherwise express).
 *
 * Pure: no sockets here. Port-forward, which reuses this framing with its
 * own channels, is in ./portforward-protocol.ts.
 */

import { ReasonedError } from "../errors.ts";

/** Newest first; see negotiate() for which one the apiserver picks. */
export const remoteCommandProtocols = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v4.base64.channel.k8s.io",
  "channel.k8s.io",
  "base64.channel.k8s.io",
] as const;

export type Protocol = (typeof remoteCommandProtocols)[number];

export const Channel = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  error: 3,
  resize: 4,
  close: 255,
} as const;

export type ChannelName = keyof typeof Channel;

export interface Frame {
  channel: number;
  payload: Buffer;
}

export type ProtocolErrorReason =
  | "wrong_frame_type"
  | "bad_channel"
  | "bad_base64"
  | "bad_close"
  | "bad_resize"
  | "bad_status"
  | "bad_port";

/** A frame or payload that breaks the protocol. Rendered as 400 BadRequest before the upgrade. */
export class ProtocolError extends ReasonedError<ProtocolErrorReason> {
  constructor(reason: ProtocolErrorReason, message: string) {
    super("ProtocolError", "bad_request", reason, message);
  }
}

export function isProtocol(name: string): name is Protocol {
  return (remoteCommandProtocols as readonly string[]).includes(name);
}

/** Text frames with base64 payloads rather than binary frames. */
export function isBase64Protocol(protocol: string): boolean {
  return protocol === "base64.channel.k8s.io" || protocol === "v4.base64.channel.k8s.io";
}

export function protocolVersion(protocol: Protocol): 1 | 4 | 5 {
  if (protocol.startsWith("v5.")) return 5;
  if (protocol.startsWith("v4.")) return 4;
  return 1;
}

/**
 * The subprotocol kube-apiserver selects. An offer that includes v5 at all
 * goes to the apiserver's own stream translator, which speaks only v5; any
 * other offer is proxied to the kubelet, whose handshake (wsstream) takes
 * the first offered name it supports: the client's order decides. Undefined
 * when none is supported (the apiserver falls back to unversioned binary
 * framing only for a client that offers no subprotocol at all; a gateway
 * should not guess).
 */
export function negotiate(offered: readonly string[]): Protocol | undefined {
  if (offered.includes("v5.channel.k8s.io")) return "v5.channel.k8s.io";
  return offered.find(isProtocol);
}

/** The names in `Sec-WebSocket-Protocol` header values (comma-separated, possibly repeated). */
export function offeredProtocols(header: string | readonly string[] | undefined): string[] {
  const values = typeof header === "string" ? [header] : (header ?? []);
  return values.flatMap((value) => value.split(",").map((name) => name.trim())).filter(Boolean);
}

/**
 * One WebSocket message as a channel frame, for exec and attach. Null for
 * an empty message, which the apiserver silently skips. Throws a
 * ProtocolError for a frame the apiserver would refuse or misread.
 */
export function decodeFrame(
  protocol: Protocol,
  data: Buffer | string,
  isBinary: boolean,
): Frame | null {
  const frame = splitFrame(protocol, data, isBinary);
  if (frame === null) return null;
  const { channel, payload } = frame;
  if (channel === Channel.close) {
    if (protocolVersion(protocol) < 5) {
      throw new ProtocolError("bad_channel", `channel 255 (close) needs v5, not ${protocol}`);
    }
    closedChannel(payload);
  } else if (channel > Channel.resize) {
    throw new ProtocolError("bad_channel", `no channel ${channel} in exec or attach`);
  }
  return frame;
}

/** The channel a v5 close frame closes. */
export function closedChannel(payload: Buffer): number {
  const [channel] = payload;
  if (payload.length !== 1 || channel === undefined || channel === Channel.close) {
    throw new ProtocolError(
      "bad_close",
      `a close frame names one channel, got ${payload.length} bytes`,
    );
  }
  return channel;
}

/**
 * Channel and payload of any channel-framed message, without checking the
 * channel against a stream kind (port-forward has its own channels).
 */
export function splitFrame(
  protocol: string,
  data: Buffer | string,
  isBinary: boolean,
): Frame | null {
  const base64 = isBase64Protocol(protocol);
  if (isBinary === base64) {
    const expected = base64 ? "text" : "binary";
    throw new ProtocolError("wrong_frame_type", `${protocol} sends ${expected} messages`);
  }
  const bytes = typeof data === "string" ? Buffer.from(data, base64 ? "latin1" : "utf8") : data;
  const [first] = bytes;
  if (first === undefined) return null;
  if (!base64) return { channel: first, payload: bytes.subarray(1) };
  const channel = first - 0x30;
  if (channel < 0 || channel > 9) {
    throw new ProtocolError("bad_channel", `base64 frames start with a digit, not byte ${first}`);
  }
  return { channel, payload: decodeBase64(bytes.subarray(1).toString("latin1")) };
}

/** Node's base64 decoder skips junk; Go's StdEncoding, which the apiserver uses, refuses it. */
function decodeBase64(text: string): Buffer {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new ProtocolError("bad_base64", "payload is not standard padded base64");
  }
  return Buffer.from(text, "base64");
}

/** A message for `channel`: a Buffer to send binary, or a string to send as text (base64 protocols). */
export function encodeFrame(
  protocol: string,
  channel: number,
  payload: Buffer | Uint8Array | string,
): Buffer | string {
  if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
    throw new ProtocolError("bad_channel", `channel ${channel} is not a byte`);
  }
  const bytes = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  if (isBase64Protocol(protocol)) {
    if (channel > 9)
      throw new ProtocolError("bad_channel", `${protocol} has no channel ${channel}`);
    return String.fromCharCode(0x30 + channel) + bytes.toString("base64");
  }
  return Buffer.concat([Buffer.of(channel), bytes]);
}

/** The v5 frame that half-closes `channel` (stdin, usually). */
export function encodeClose(protocol: Protocol, channel: number): Buffer {
  if (protocolVersion(protocol) < 5) {
    throw new ProtocolError("bad_close", `${protocol} cannot close a single channel`);
  }
  return encodeFrame(protocol, Channel.close, Buffer.of(channel)) as Buffer;
}
