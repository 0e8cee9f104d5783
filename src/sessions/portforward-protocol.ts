/**
 * Port-forward over WebSockets. Two different things share the endpoint
 * `/api/v1/namespaces/NS/pods/POD/portforward`:
 *
 * - Channel framing (the kubelet's own WebSocket port-forward, proxied by
 *   the apiserver): the same subprotocol names and frames as exec
 *   (`v4.channel.k8s.io`, `v4.base64.channel.k8s.io`, see
 *   ./channel-protocol.ts), with the ports in `ports` query parameters. Port
 *   i (in query order) gets data channel 2i (both ways) and error channel
 *   2i+1 (server to client, text). The server's first frame on each of the
 *   two channels is the port as an unsigned 16-bit little-endian integer;
 *   client frames carry no prefix.
 * - `SPDY/3.1+portforward.k8s.io` (KEP-4006, kubectl 1.30 and later): SPDY
 *   tunnelled in binary WebSocket messages. Those bytes are SPDY frames, not
 *   channel frames; a relay can count them but needs a SPDY parser to see
 *   connections. `portforward.k8s.io` alone is the plain SPDY upgrade's
 *   protocol (X-Stream-Protocol-Version), never a WebSocket subprotocol.
 */

import { type Frame, ProtocolError, splitFrame } from "./channel-protocol.ts";

export const spdyTunnelProtocol = "SPDY/3.1+portforward.k8s.io";

export const portForwardProtocols = [
  "v4.channel.k8s.io",
  "v4.base64.channel.k8s.io",
  spdyTunnelProtocol,
] as const;

export type PortForwardProtocol = (typeof portForwardProtocols)[number];

/**
 * Like negotiate() for exec: an offer naming the SPDY tunnel anywhere is
 * taken by the apiserver's tunnel handler; otherwise the kubelet takes the
 * first offered name it supports.
 */
export function negotiatePortForward(offered: readonly string[]): PortForwardProtocol | undefined {
  if (offered.includes(spdyTunnelProtocol)) return spdyTunnelProtocol;
  return offered.find((name): name is PortForwardProtocol =>
    (portForwardProtocols as readonly string[]).includes(name),
  );
}

/** The `ports` query parameters, each possibly comma-separated, as the kubelet reads them. */
export function parsePortForwardPorts(values: readonly string[]): number[] {
  if (values.length === 0)
    throw new ProtocolError("bad_port", 'query parameter "ports" is required');
  return values.flatMap((value) =>
    value.split(",").map((text) => {
      const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
      if (!(port >= 1 && port <= 0xffff)) {
        throw new ProtocolError("bad_port", `not a port: ${JSON.stringify(text)}`);
      }
      return port;
    }),
  );
}

export interface PortChannels {
  data: number;
  error: number;
}

/** The channels of the port at `index` in the request's port list. */
export function portChannels(index: number): PortChannels {
  return { data: 2 * index, error: 2 * index + 1 };
}

export interface PortForwardFrame {
  port: number;
  kind: "data" | "error";
  channel: number;
  /** Without the port prefix. */
  payload: Buffer;
  /** This frame opened its channel (it carried the port prefix). */
  opening: boolean;
}

/** The port prefix of a channel's first server frame. */
export function encodePortPrefix(port: number): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16LE(port);
  return prefix;
}

/**
 * Reads the server's side of a channel-framed port-forward. Stateful only in
 * which channels have shown their port prefix yet; checks that the prefix
 * names the port the request put on that channel.
 */
export class PortForwardServerReader {
  readonly #ports: readonly number[];
  readonly #opened = new Set<number>();
  readonly #protocol: string;

  constructor(protocol: string, ports: readonly number[]) {
    this.#protocol = protocol;
    this.#ports = ports;
  }

  read(data: Buffer | string, isBinary: boolean): PortForwardFrame | null {
    const frame = splitFrame(this.#protocol, data, isBinary);
    if (frame === null) return null;
    const { port, kind } = this.#channel(frame);
    if (this.#opened.has(frame.channel)) {
      return { port, kind, channel: frame.channel, payload: frame.payload, opening: false };
    }
    if (frame.payload.length < 2) {
      throw new ProtocolError("bad_port", `channel ${frame.channel} opened without its port`);
    }
    const announced = frame.payload.readUInt16LE(0);
    if (announced !== port) {
      throw new ProtocolError(
        "bad_port",
        `channel ${frame.channel} is port ${port}, not ${announced}`,
      );
    }
    this.#opened.add(frame.channel);
    return {
      port,
      kind,
      channel: frame.channel,
      payload: frame.payload.subarray(2),
      opening: true,
    };
  }

  #channel(frame: Frame): { port: number; kind: "data" | "error" } {
    const port = this.#ports[Math.floor(frame.channel / 2)];
    if (port === undefined) {
      throw new ProtocolError(
        "bad_channel",
        `no channel ${frame.channel} for ${this.#ports.length} ports`,
      );
    }
    return { port, kind: frame.channel % 2 === 0 ? "data" : "error" };
  }
}

/** A client frame: data for the port at `index`, no prefix. Error channels are server-only. */
export function decodePortForwardClientFrame(
  protocol: string,
  ports: readonly number[],
  data: Buffer | string,
  isBinary: boolean,
): PortForwardFrame | null {
  const frame = splitFrame(protocol, data, isBinary);
  if (frame === null) return null;
  const port = ports[Math.floor(frame.channel / 2)];
  if (port === undefined || frame.channel % 2 !== 0) {
    throw new ProtocolError("bad_channel", `a client cannot write channel ${frame.channel}`);
  }
  return { port, kind: "data", channel: frame.channel, payload: frame.payload, opening: false };
}
