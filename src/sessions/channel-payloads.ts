/**
 * What the control channels of exec and attach carry (./channel-protocol.ts
 * frames them):
 *
 * - resize (4), client to server: JSON `{"Width": w, "Height": h}`, a
 *   remotecommand.TerminalSize (uint16 each). The apiserver reads it with a
 *   Go json.Decoder, so key case does not matter and several objects may
 *   follow one another.
 * - error (3), server to client: in v4 and later a metav1.Status, sent once
 *   when the command ends. Success has `status: "Success"`; a non-zero exit
 *   is `reason: "NonZeroExitCode"` with the code as the message of a cause
 *   of type `ExitCode`. Any other Failure (no such container, exec refused)
 *   has no code. Before v4 the channel carries only an error's text.
 */

import { type Protocol, ProtocolError, protocolVersion } from "./channel-protocol.ts";

export interface TerminalSize {
  width: number;
  height: number;
}

export interface ExitStatus {
  status: "Success" | "Failure";
  /** 0 on Success; the command's code for NonZeroExitCode; absent for other failures. */
  exitCode?: number;
  message?: string;
}

/** Every terminal size in a resize frame's payload, in order. */
export function parseResize(payload: Buffer | string): TerminalSize[] {
  const text = typeof payload === "string" ? payload : payload.toString("utf8");
  return splitJsonObjects(text).map(toTerminalSize);
}

export function encodeResize(size: TerminalSize): Buffer {
  return Buffer.from(JSON.stringify({ Width: size.width, Height: size.height }));
}

function toTerminalSize(value: unknown): TerminalSize {
  const fields = lowerCaseKeys(value);
  const width = fields.width ?? 0;
  const height = fields.height ?? 0;
  if (!isUint16(width) || !isUint16(height)) {
    throw new ProtocolError("bad_resize", `not a terminal size: ${JSON.stringify(value)}`);
  }
  return { width, height };
}

function isUint16(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffff;
}

/** Go's encoding/json matches field names case-insensitively. */
function lowerCaseKeys(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("bad_resize", "a terminal size is a JSON object");
  }
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key.toLowerCase(), v]));
}

/** Concatenated JSON objects (`{..}{..}` or `{..}\n{..}`), as a json.Decoder reads them. */
function splitJsonObjects(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "{") {
      if (depth++ === 0) start = i;
    } else if (char === "}") {
      if (--depth === 0) values.push(parseJson(text.slice(start, i + 1), "bad_resize"));
      if (depth < 0) break;
    } else if (depth === 0 && !/\s/.test(char ?? "")) {
      depth = -1; // junk between objects: the apiserver's decoder would stop reading resizes here
      break;
    }
  }
  if (depth !== 0 || inString || values.length === 0) {
    throw new ProtocolError("bad_resize", `not a sequence of terminal sizes: ${text.slice(0, 80)}`);
  }
  return values;
}

function parseJson(text: string, reason: "bad_resize" | "bad_status"): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError(reason, `not JSON: ${text.slice(0, 80)}`);
  }
}

/** The outcome the error channel reports. `protocol` decides Status JSON (v4+) or text. */
export function parseErrorChannel(
  payload: Buffer | string,
  protocol: Protocol = "v5.channel.k8s.io",
): ExitStatus {
  const text = typeof payload === "string" ? payload : payload.toString("utf8");
  if (protocolVersion(protocol) < 4) return { status: "Failure", message: text };
  const status = parseJson(text, "bad_status");
  if (!isStatus(status)) {
    throw new ProtocolError("bad_status", `not a Status: ${text.slice(0, 80)}`);
  }
  if (status.status === "Success") return { status: "Success", exitCode: 0 };
  const result: ExitStatus = { status: "Failure" };
  if (typeof status.message === "string") result.message = status.message;
  const exitCode = status.reason === "NonZeroExitCode" ? exitCodeCause(status) : undefined;
  if (exitCode !== undefined) result.exitCode = exitCode;
  return result;
}

interface StatusShape {
  status: "Success" | "Failure";
  message?: unknown;
  reason?: unknown;
  details?: { causes?: { reason?: unknown; message?: unknown }[] };
}

function isStatus(value: unknown): value is StatusShape {
  if (typeof value !== "object" || value === null) return false;
  const { status } = value as { status?: unknown };
  return status === "Success" || status === "Failure";
}

function exitCodeCause(status: StatusShape): number | undefined {
  const causes = Array.isArray(status.details?.causes) ? status.details.causes : [];
  const cause = causes.find((c) => c?.reason === "ExitCode");
  const code = typeof cause?.message === "string" ? Number(cause.message) : Number.NaN;
  return Number.isInteger(code) ? code : undefined;
}
