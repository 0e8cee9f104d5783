import type { Logger } from "pino";
import { BodyCapture, bodyRef, readRequestBody } from "../audit/body.ts";
import {
  type AuditLevel,
  type CompletionRecord,
  type Outcome,
  type RequestRecord,
  recordedIdentity,
  recordedRequest,
} from "../audit/record.ts";
import type { SessionTracker } from "../audit/session.ts";
import type { Blob } from "../audit/store/store.ts";
import type { AuditWriter } from "../audit/writer.ts";
import { classifyError, isPortcullisError, PortcullisError } from "../errors.ts";
import { requestHasBody } from "../kube/headers.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { Decided, Recorded, Stage } from "../server/context.ts";

export interface AuditStageOptions {
  writer: AuditWriter;
  sessions: SessionTracker;
  /** The level for writes (and other non-read calls) no rule says otherwise about. */
  defaultLevel: AuditLevel;
  /** The level for reads (get, list, watch) no rule says otherwise about. */
  readLevel: AuditLevel;
  /** Bodies up to this size are kept inline in the record; larger ones as blobs. */
  maxInlineBytes: number;
  /** At most this much of a response is kept (watches never end). */
  maxResponseBytes: number;
  /** At most this much of a session's recording is kept. */
  maxRecordingBytes: number;
  log: Logger;
  /** Reports how long each record took to become durable. */
  observeAppend?: (kind: "request" | "completion", seconds: number) => void;
}

/**
 * Resources whose payloads are credentials: their bodies are never recorded,
 * whatever the level (Secrets, service-account tokens, token reviews).
 */
function carriesCredentials(info: RequestInfo): boolean {
  return (
    info.resource === "secrets" ||
    (info.resource === "serviceaccounts" && info.subresource === "token") ||
    info.resource === "tokenreviews"
  );
}

const readVerbs = new Set(["get", "list", "watch"]);

export function effectiveLevel(
  info: RequestInfo,
  writeLevel: AuditLevel,
  readLevel: AuditLevel,
): AuditLevel {
  if (carriesCredentials(info)) return "Metadata";
  return readVerbs.has(info.verb) ? readLevel : writeLevel;
}

function outcomeOf(err: unknown, clientGone: boolean): { outcome: Outcome; status: number } {
  if (clientGone && !isPortcullisError(err)) return { outcome: "client_gone", status: 499 };
  if (!isPortcullisError(err)) return { outcome: "failed", status: 500 };
  const { httpStatus } = classifyError(err.code);
  const failed =
    err.code === "internal" || err.code.startsWith("upstream") || err.code === "audit_unavailable";
  return { outcome: failed ? "failed" : "refused", status: httpStatus };
}

/**
 * audit.begin and audit.end. The request record is committed durably before
 * the call goes any further; if it cannot be, the call is refused with 503 —
 * nothing is ever forwarded unrecorded. The completion record is committed
 * before the client sees the end of the answer (via `beforeResponseEnd`), or
 * before an error is rendered, so a client that saw an answer can rely on
 * both records existing.
 */
export function auditStage(options: AuditStageOptions): Stage<Decided, Recorded> {
  const { writer } = options;
  return async function audit(ctx, next) {
    const level = effectiveLevel(
      ctx.requestInfo,
      ctx.decision.auditLevel ?? options.defaultLevel,
      ctx.decision.auditLevel ?? options.readLevel,
    );
    const requestBody =
      ctx.requestBody ??
      (level !== "Metadata" && requestHasBody(ctx.req)
        ? await readRequestBody(ctx.req)
        : undefined);
    const headers = ctx.req.headers;
    const session = options.sessions.sessionFor(ctx.identity, {
      ...(typeof headers["kubectl-session"] === "string"
        ? { invocation: headers["kubectl-session"] }
        : {}),
      ...(typeof headers["kubectl-command"] === "string"
        ? { command: headers["kubectl-command"] }
        : {}),
    });
    const blobs: Blob[] = [];
    const request: RequestRecord = {
      kind: "request",
      time: new Date().toISOString(),
      requestId: ctx.id,
      identity: recordedIdentity(ctx.identity),
      source: {
        address: ctx.remoteAddress,
        ...(headers["user-agent"] ? { userAgent: headers["user-agent"].slice(0, 256) } : {}),
      },
      session,
      request: {
        ...recordedRequest(ctx.req.method ?? "GET", ctx.requestInfo),
        ...(ctx.namespaceLabels ? { namespaceLabels: ctx.namespaceLabels } : {}),
      },
      level,
      decision: {
        action: ctx.decision.action,
        rule: ctx.decision.ruleId,
        ...(ctx.decision.message ? { reason: ctx.decision.message } : {}),
        ...(ctx.dryRun ? { dryRun: true } : {}),
        ...(ctx.decision.maskingProfile ? { maskingProfile: ctx.decision.maskingProfile } : {}),
        ...(ctx.decision.unrecordedStreams ? { unrecordedStreams: true } : {}),
      },
    };
    if (level !== "Metadata" && requestBody !== undefined && requestBody.length > 0) {
      const { ref, blob } = bodyRef(
        requestBody,
        requestBody.length,
        String(headers["content-type"] ?? ""),
        options.maxInlineBytes,
      );
      request.body = ref;
      if (blob) blobs.push(blob);
    }
    try {
      const started = performance.now();
      await writer.record(request, blobs);
      options.observeAppend?.("request", (performance.now() - started) / 1000);
    } catch (err) {
      throw new PortcullisError(
        "audit_unavailable",
        "portcullis: the audit log cannot be written right now, so the call was refused rather than forwarded unrecorded; retry shortly",
        { cause: err },
      );
    }

    const capture =
      level === "RequestResponse" ? new BodyCapture(options.maxResponseBytes) : undefined;
    let completed = false;
    const complete = async (
      outcome: Outcome,
      status: number,
      error?: CompletionRecord["error"],
    ) => {
      completed = true;
      const record: CompletionRecord = {
        kind: "completion",
        time: new Date().toISOString(),
        requestId: ctx.id,
        outcome,
        status,
        bytes: ctx.outcome.bytesOut,
        durationMs: Math.round((performance.now() - ctx.startedAt) * 1000) / 1000,
      };
      if (error) record.error = error;
      const admission = ctx.outcome.admission;
      if (admission?.via === "grant") record.grant = admission.grant.id;
      if (admission?.via === "approval") {
        record.approval = {
          id: admission.approval.id,
          state: admission.approval.state,
          decisions: admission.approval.decisions.map((d) => ({
            by: d.by,
            decision: d.decision,
            reason: d.reason,
            at: d.at,
          })),
        };
      }
      const masked = ctx.outcome.masked?.entries();
      if (masked && masked.length > 0) record.masked = masked;
      const completionBlobs: Blob[] = [];
      if (ctx.outcome.sessionEnded) record.sessionEnded = ctx.outcome.sessionEnded;
      if (ctx.outcome.stream) record.stream = ctx.outcome.stream;
      const recording = ctx.outcome.recording;
      if (recording !== undefined) {
        const { ref, blob } = bodyRef(
          recording.data,
          recording.totalBytes,
          "application/x-asciicast",
          options.maxInlineBytes,
        );
        record.recording = ref;
        if (blob) completionBlobs.push(blob);
      }
      if (capture && capture.size > 0) {
        const contentType = String(
          ctx.transport.kind === "http" ? (ctx.transport.res.getHeader("content-type") ?? "") : "",
        );
        const { ref, blob } = bodyRef(
          capture.bytes(),
          capture.size,
          contentType,
          options.maxInlineBytes,
        );
        record.body = ref;
        if (blob) completionBlobs.push(blob);
      }
      const started = performance.now();
      await writer.record(record, completionBlobs);
      options.observeAppend?.("completion", (performance.now() - started) / 1000);
    };

    try {
      await next({
        ...ctx,
        requestBody,
        onResponseChunk: capture ? (chunk) => capture.push(chunk) : undefined,
        beforeResponseEnd: () => complete("completed", ctx.outcome.status),
      });
      if (!completed) await complete("completed", ctx.outcome.status);
    } catch (err) {
      if (!completed) {
        const { outcome, status } = outcomeOf(err, ctx.signal.aborted);
        const error = isPortcullisError(err)
          ? { code: err.code, message: err.message }
          : { code: "error", message: (err as Error)?.message ?? String(err) };
        await complete(outcome, ctx.outcome.status || status, error).catch((recordErr: unknown) =>
          options.log.error({ err: recordErr }, "audit: completion record could not be written"),
        );
      }
      throw err;
    }
  };
}
