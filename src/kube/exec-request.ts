/**
 * What an exec or attach call asks for, from its query string, as the API
 * server reads it (core/v1 PodExecOptions, PodAttachOptions): the command
 * (one `command` parameter per argument), the container, and which streams.
 * Policy conditions see it as `request.exec`.
 */
import type { RequestInfo } from "./request-info.ts";

export interface ExecRequest {
  /** exec: argv as given; attach: empty (it joins the running process). */
  command: string[];
  /** "" when the pod's default container is meant. */
  container: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** Set when judging a line typed into the session rather than the call itself. */
  typed?: { line: string; uncertain: boolean };
}

/** Go's strconv.ParseBool, which the API server's query decoding uses. */
function bool(value: string | null): boolean {
  return value !== null && ["1", "t", "T", "TRUE", "true", "True"].includes(value);
}

export function execRequest(info: RequestInfo, url: string): ExecRequest | undefined {
  if (info.resource !== "pods" || (info.subresource !== "exec" && info.subresource !== "attach")) {
    return undefined;
  }
  const query = new URL(url, "https://gateway").searchParams;
  return {
    command: info.subresource === "exec" ? query.getAll("command") : [],
    container: query.get("container") ?? "",
    stdin: bool(query.get("stdin")),
    stdout: bool(query.get("stdout")),
    stderr: bool(query.get("stderr")),
    tty: bool(query.get("tty")),
  };
}
