/**
 * The dedicated LISTEN connection of one replica's approvals store. A pooled
 * connection cannot listen (it is handed to others between queries), so this
 * is its own client, kept alive for the store's lifetime.
 *
 * A listener that has lost its connection has missed notifications without
 * knowing which. So whenever it drops — the server restarted, the backend was
 * terminated, a heartbeat went unanswered — it reconnects with backoff and,
 * once listening again, reports a resync: every holder re-reads its approval.
 */
import pg from "pg";

export interface ListenerOptions {
  connectionString: string;
  /** Quoted for LISTEN. */
  channel: string;
  connectTimeoutMs: number;
  /** A round trip this often proves the connection is alive (a half-open TCP stays silent). */
  heartbeatMs: number;
  onNotification(payload: string): void;
  onResync(): void;
}

export interface Listener {
  close(): Promise<void>;
}

const minBackoffMs = 50;
const maxBackoffMs = 5000;

function noop() {}

/** Connects and listens before resolving, so nothing committed after open is missed. */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  let client: pg.Client | undefined;
  let closed = false;
  let backoffMs = minBackoffMs;
  let retry: NodeJS.Timeout | undefined;

  async function connect(): Promise<void> {
    const candidate = new pg.Client({
      connectionString: options.connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs,
      query_timeout: options.heartbeatMs,
      keepAlive: true,
      application_name: "portcullis-approvals-listener",
    });
    // Until it is ours, its failures are reported by connect() and query() below.
    candidate.on("error", noop);
    candidate.on("notification", (message) => {
      // Also before it is ours: one read can carry LISTEN's answer and a notification.
      if (!closed && (client === candidate || client === undefined))
        options.onNotification(message.payload ?? "");
    });
    try {
      await candidate.connect();
      await candidate.query(`LISTEN ${options.channel}`);
    } catch (error) {
      candidate.end().catch(noop);
      throw error;
    }
    if (closed) {
      await candidate.end().catch(noop);
      return;
    }
    client = candidate;
    candidate.on("error", () => lost(candidate));
    candidate.on("end", () => lost(candidate));
  }

  function lost(which: pg.Client): void {
    if (which !== client) return;
    client = undefined;
    which.end().catch(noop);
    reconnectSoon();
  }

  function reconnectSoon(): void {
    if (closed || retry) return;
    retry = setTimeout(async function reconnect() {
      // Cleared first: the new connection may be lost as soon as it is ours.
      retry = undefined;
      try {
        await connect();
        backoffMs = minBackoffMs;
        if (!closed) options.onResync();
      } catch {
        backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
        reconnectSoon();
      }
    }, backoffMs);
  }

  const heartbeat = setInterval(function heartbeat() {
    const current = client;
    // query_timeout makes an unanswered heartbeat fail rather than wait forever.
    current?.query("SELECT 1").catch(() => lost(current));
  }, options.heartbeatMs).unref();

  try {
    await connect();
  } catch (error) {
    clearInterval(heartbeat);
    throw error;
  }
  return {
    async close() {
      closed = true;
      clearInterval(heartbeat);
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(noop);
    },
  };
}
