import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { Admission } from "../approvals/gate.ts";
import type { StreamSummary } from "../audit/record.ts";
import type { Identity } from "../identity/identity.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { MaskingProfile } from "../masking/profiles.ts";
import type { MaskTally } from "../masking/tally.ts";
import type { UpstreamAnswer } from "../policy/dry-run.ts";
import type { PolicyDecision } from "../policy/engine.ts";
import type { FinishedRecording } from "../sessions/recording/session-recording.ts";
import type { TypedLine } from "../sessions/stdin-lines.ts";

/** How the answer goes back: a normal response, or a socket after `Upgrade:`. */
export type Transport =
  | { kind: "http"; res: ServerResponse }
  | { kind: "upgrade"; socket: Duplex; head: Buffer };

/** What the runner reports when the call ends (metrics, log line). */
export interface Outcome {
  status: number;
  bytesOut: number;
  verb: string;
  resource: string;
  user: string;
  /** What masking replaced in the response, for the completion record. */
  masked?: MaskTally;
  /** Why the gateway ended an interactive session (a typed line a rule refused). */
  sessionEnded?: string;
  /** An interactive session's asciicast v2 recording (what the client saw). */
  recording?: FinishedRecording;
  /** A relayed stream's protocol; port-forward connections; an unrecorded stream. */
  stream?: StreamSummary;
  /** The grant or approval an approve-rule call went through or was refused by. */
  admission?: Admission;
}

/** Every stage sees this; later stages see narrower types below. */
export interface RequestContext {
  readonly id: string;
  readonly req: IncomingMessage;
  readonly transport: Transport;
  readonly startedAt: number;
  readonly remoteAddress: string;
  readonly log: Logger;
  /** Aborted when the client goes away or the gateway shuts down. */
  readonly signal: AbortSignal;
  /** Aborted when the gateway begins a graceful shutdown (watches end cleanly). */
  readonly shutdown: AbortSignal;
  readonly outcome: Outcome;
}

export interface Authenticated extends RequestContext {
  readonly identity: Identity;
}

export interface Classified extends Authenticated {
  readonly requestInfo: RequestInfo;
}

/** After decide: the policy's decision, and what judging the call needed. */
export interface Decided extends Classified {
  readonly decision: PolicyDecision;
  /** The request body, when it was read before forwarding (to judge or record it). */
  readonly requestBody: Buffer | undefined;
  /** True when the decision needed a dry-run of the write. */
  readonly dryRun: boolean;
  /** The API server's own refusal of the dry-run, relayed instead of the real call. */
  readonly refusal: UpstreamAnswer | undefined;
  /** Labels of the call's namespace as the decision saw them. */
  readonly namespaceLabels: Record<string, string> | undefined;
  /** For exec and attach with stdin: judges each line typed into the session. */
  readonly judgeTypedLine?: (line: TypedLine) => PolicyDecision;
  /** For port-forward: judges each connection by the port it opens. */
  readonly judgePortForward?: (port: number) => PolicyDecision;
}

/** After audit.begin: the call is on record; what forwarding needs from that. */
export interface Recorded extends Decided {
  /** The request body, when it was read before forwarding (to record or judge it). */
  readonly requestBody: Buffer | undefined;
  /** Sees every response byte sent to the client (RequestResponse capture). */
  readonly onResponseChunk: ((chunk: Buffer) => void) | undefined;
  /**
   * Awaited before the last response bytes go out, so the completion record
   * is durable before the client can see the call answered.
   */
  readonly beforeResponseEnd: (() => Promise<void>) | undefined;
}

/** What masking a session's output needs (exec and attach: stdout and stderr). */
export interface SessionMasking {
  readonly profile: MaskingProfile;
  readonly tally: MaskTally;
}

/** What masking a response needs, when the decision named a profile (other than `none`). */
export interface ResponseMasking extends SessionMasking {
  /** Accept header sent upstream instead of the client's (JSON only). */
  readonly upstreamAccept: string;
  /** The form the client gets: JSON, or CBOR for clients that accept only that. */
  readonly answer: "json" | "cbor";
}

/** After mask: how the response is to be masked, if at all. */
export interface Masked extends Recorded {
  /** HTTP answers. */
  readonly masking: ResponseMasking | undefined;
  /** exec and attach sessions' output. */
  readonly sessionMasking?: SessionMasking;
}

/** An onion stage: acts before and after the rest of the pipeline. */
export type Stage<In extends RequestContext, Out extends In> = (
  ctx: In,
  next: (ctx: Out) => Promise<void>,
) => Promise<void>;

/** The innermost stage: answers the request. */
export type Terminal<In extends RequestContext> = (ctx: In) => Promise<void>;
