/**
 * What a port-forward call names, from its query string: the `ports`
 * parameters (each possibly comma-separated), as the kubelet reads them for
 * the channel-framed WebSocket protocol. kubectl's SPDY protocols send no
 * ports with the call; each connection names its port when it opens, and the
 * gateway judges it then (src/pipeline/portforward.ts). Policy conditions see
 * it as `request.portForward`.
 */
import type { RequestInfo } from "./request-info.ts";

export interface PortForwardRequest {
  /**
   * The ports the call reaches: those in the query, or the one port of a
   * connection being judged; empty when not yet known (the SPDY protocols).
   */
  ports: number[];
  /** Set when judging one connection of an open port-forward rather than the call. */
  connection?: boolean;
}

export function portForwardRequest(info: RequestInfo, url: string): PortForwardRequest | undefined {
  if (info.resource !== "pods" || info.subresource !== "portforward") return undefined;
  const query = new URL(url, "https://gateway").searchParams;
  const ports: number[] = [];
  for (const value of query.getAll("ports")) {
    for (const text of value.split(",")) {
      // Not a port: -1 never matches a rule's ports, so the call is judged
      // as naming a port no rule allows (the kubelet would refuse it too).
      ports.push(
        /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535 ? Number(text) : -1,
      );
    }
  }
  return { ports };
}
