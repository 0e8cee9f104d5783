import { createHash, randomBytes } from "node:crypto";
import type { Identity } from "../identity/identity.ts";

export interface SessionInfo {
  /** The session: one credential's calls with no idle gap longer than the limit. */
  id: string;
  /** kubectl's per-invocation id (`Kubectl-Session`), when the client is kubectl. */
  invocation?: string;
  /** kubectl's command (`Kubectl-Command`, e.g. "kubectl apply"), when present. */
  command?: string;
}

const defaultIdleGapMs = 15 * 60 * 1000;
const maxTracked = 100_000;

/**
 * Groups calls into sessions. kubectl sends a new `Kubectl-Session` for every
 * invocation, so a person's or agent's working session — several kubectl
 * commands in a row — is derived from the credential and an idle gap; each
 * call also keeps kubectl's invocation id and command, so a session's
 * timeline shows the commands that made it. Sessions are tracked per gateway
 * process: replicas behind a load balancer each derive their own.
 */
export class SessionTracker {
  readonly #idleGapMs: number;
  readonly #open = new Map<string, { id: string; lastSeen: number }>();

  constructor(idleGapMs = defaultIdleGapMs) {
    this.#idleGapMs = idleGapMs;
  }

  sessionFor(
    identity: Identity,
    headers: { invocation?: string; command?: string },
    now = Date.now(),
  ): SessionInfo {
    const key = `${identity.issuer}\n${identity.tokenId ?? identity.username}`;
    let open = this.#open.get(key);
    if (!open || now - open.lastSeen > this.#idleGapMs) {
      open = { id: newSessionId(key, now), lastSeen: now };
      if (this.#open.size >= maxTracked) this.#evictIdle(now);
    }
    open.lastSeen = now;
    // Re-insert so the map stays ordered by last use (oldest first).
    this.#open.delete(key);
    this.#open.set(key, open);
    return {
      id: open.id,
      ...(headers.invocation ? { invocation: headers.invocation.slice(0, 128) } : {}),
      ...(headers.command ? { command: headers.command.slice(0, 512) } : {}),
    };
  }

  #evictIdle(now: number): void {
    for (const [key, open] of this.#open) {
      if (now - open.lastSeen <= this.#idleGapMs && this.#open.size < maxTracked) break;
      this.#open.delete(key);
    }
  }
}

function newSessionId(key: string, now: number): string {
  const digest = createHash("sha256")
    .update(key)
    .update(String(now))
    .update(randomBytes(8))
    .digest("hex");
  return `s-${digest.slice(0, 16)}`;
}
