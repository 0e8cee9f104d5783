/**
 * One delivery attempt: a POST with its own timeout, read into a result that
 * says whether asking again could help. Never throws.
 */
import { isRetryableStatus, parseRetryAfter } from "./retry.ts";

export interface PreparedRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export type AttemptResult =
  | { ok: true; status: number }
  | { ok: false; status?: number; error: string; retryable: boolean; retryAfterMs?: number };

/** Enough of an error body to read Slack's `invalid_payload` or a receiver's reason. */
const maxErrorBodyBytes = 256;

/** Reading a secret can fail (a rotated file briefly missing): a failed, retryable attempt. */
export async function sendAttempt(
  prepare: () => PreparedRequest,
  timeoutMs: number,
  cancel: AbortSignal,
): Promise<AttemptResult> {
  let request: PreparedRequest;
  try {
    request = prepare();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, error: `secret unavailable: ${message}`, retryable: true };
  }
  return postOnce(request, timeoutMs, cancel);
}

async function postOnce(
  request: PreparedRequest,
  timeoutMs: number,
  cancel: AbortSignal,
): Promise<AttemptResult> {
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), cancel]);
  try {
    const response = await fetch(request.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "portcullis",
        ...request.headers,
      },
      body: request.body,
      // A redirect would carry the signed body somewhere not configured.
      redirect: "manual",
      signal,
    });
    if (response.ok) {
      await response.body?.cancel();
      return { ok: true, status: response.status };
    }
    const detail = await readSnippet(response);
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
    return {
      ok: false,
      status: response.status,
      error: `HTTP ${response.status}${detail ? `: ${detail}` : ""}`,
      retryable: isRetryableStatus(response.status),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  } catch (err) {
    if (cancel.aborted) return { ok: false, error: "cancelled", retryable: false };
    if (signal.aborted)
      return { ok: false, error: `timed out after ${timeoutMs} ms`, retryable: true };
    return { ok: false, error: describeNetworkError(err), retryable: true };
  }
}

async function readSnippet(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxErrorBodyBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const text = Buffer.concat(chunks).subarray(0, maxErrorBodyBytes).toString("utf8");
  // One line, printable: it ends up in logs and on a status page.
  return text.replace(/\p{Cc}+/gu, " ").trim();
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, …) is in its cause. */
function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${err.message}: ${code ?? cause.message}`;
  }
  return err.message;
}
