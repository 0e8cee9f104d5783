/**
 * How each kind of target turns an event into a request: the signed webhook
 * or the Slack message. Secrets are read per attempt, so a rotated Secret
 * file takes effect without a restart.
 */
import { resolveSecret } from "../../config/secret.ts";
import type { PreparedRequest } from "./attempt.ts";
import type { NotificationTarget } from "./config.ts";
import type { NotificationEvent } from "./event.ts";
import { slackMessage } from "./slack.ts";
import { signWebhook, webhookPayload } from "./webhook.ts";

export interface TargetSender {
  kind: "webhook" | "slack";
  timeoutMs: number;
  /** Builds the body once per event; the returned function prepares each attempt afresh. */
  prepare(event: NotificationEvent): () => PreparedRequest;
}

/** Throws when a secret cannot be read now, so a bad config stops the start. */
export function targetSender(
  config: NotificationTarget,
  linkBase: string | undefined,
): TargetSender {
  if ("webhook" in config) {
    const { url, secret, timeoutMs } = config.webhook;
    const refs = Array.isArray(secret) ? secret : [secret];
    const secrets = () => refs.map(resolveSecret);
    secrets();
    return {
      kind: "webhook",
      timeoutMs,
      prepare(event) {
        const body = JSON.stringify(webhookPayload(event, linkBase));
        return () => ({ url, body, headers: signWebhook({ secrets: secrets(), body }) });
      },
    };
  }
  const { url, timeoutMs } = config.slack;
  const slackUrl = () => checkedSlackUrl(resolveSecret(url));
  slackUrl();
  return {
    kind: "slack",
    timeoutMs,
    prepare(event) {
      const body = JSON.stringify(slackMessage(event, { linkBase }));
      return () => ({ url: slackUrl(), body, headers: {} });
    },
  };
}

/** The URL is a credential: an error names the problem, never the value. */
function checkedSlackUrl(value: string): string {
  const url = URL.parse(value);
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new Error("the Slack webhook URL is not an http(s) URL");
  }
  return url.toString();
}
