/**
 * The kill switch: every long-running call the gateway holds open (exec and
 * attach sessions, watches, followed logs) is registered here while it
 * lasts, so an operator can end one call, or everything a user has open,
 * at once (`portcullis sessions kill`). Ending a call is recorded in its
 * completion record (`sessionEnded`). Revoking the agent's token or the
 * grant a call came through ends it too.
 */

export interface LiveCall {
  requestId: string;
  username: string;
  /** `exec`, `attach`, `watch`, `log`… */
  kind: string;
  /** Namespace/name of the pod or resource, for listing. */
  target: string;
  startedAt: string;
  /** The grant that let the call through, if one did: revoking it ends the call. */
  grant?: string;
  /** Ends the call at once, telling the client `reason` where the protocol allows. */
  end(reason: string): void;
}

export type LiveCallView = Omit<LiveCall, "end">;

export class LiveCalls {
  readonly #calls = new Map<string, LiveCall>();

  /** Registers a call; the returned function unregisters it (call it when the call ends). */
  add(call: LiveCall): () => void {
    this.#calls.set(call.requestId, call);
    return () => {
      if (this.#calls.get(call.requestId) === call) this.#calls.delete(call.requestId);
    };
  }

  list(): LiveCallView[] {
    return [...this.#calls.values()].map(({ end: _end, ...view }) => view);
  }

  /** Ends one call; false when it is not open (any more). */
  end(requestId: string, reason: string): boolean {
    const call = this.#calls.get(requestId);
    if (call === undefined) return false;
    this.#calls.delete(requestId);
    call.end(reason);
    return true;
  }

  /** Ends every call `username` has open; how many. */
  endUser(username: string, reason: string): number {
    let ended = 0;
    for (const call of [...this.#calls.values()]) {
      if (call.username === username && this.end(call.requestId, reason)) ended++;
    }
    return ended;
  }

  /** Ends every call a grant let through; how many. */
  endGrant(grantId: string, reason: string): number {
    let ended = 0;
    for (const call of [...this.#calls.values()]) {
      if (call.grant === grantId && this.end(call.requestId, reason)) ended++;
    }
    return ended;
  }
}
