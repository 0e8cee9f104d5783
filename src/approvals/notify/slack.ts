/**
 * The Slack message (Block Kit, for an incoming webhook): who asks, what, why,
 * the effect, and the CLI lines that decide. No interactive buttons: a button
 * needs a Slack app with a request URL that verifies Slack's own signature
 * and maps the Slack user to an approver, which an incoming webhook cannot
 * provide; the link opens the approver UI instead.
 *
 * Every value may come from the requester (a kubectl command, an object name),
 * so all of it is escaped: `<!channel>` or `<https://evil|approve>` arrives as
 * text, never as a mention or a disguised link.
 */
import {
  type ApprovalView,
  approvalCommands,
  type GrantView,
  type NotificationEvent,
  objectLabel,
  resourceLabel,
  subjectLink,
  truncateEffect,
} from "./event.ts";

export interface TextObject {
  type: "plain_text" | "mrkdwn";
  text: string;
}

export type SlackBlock =
  | { type: "header"; text: TextObject & { type: "plain_text" } }
  | { type: "section"; text?: TextObject; fields?: TextObject[] }
  | { type: "context"; elements: TextObject[] }
  | { type: "divider" };

export interface SlackMessage {
  /** The notification text, shown where blocks cannot be. */
  text: string;
  blocks: SlackBlock[];
}

/** Slack's documented limits (Block Kit reference). */
export const slackLimits = { header: 150, sectionText: 3000, field: 2000, fields: 10 } as const;
const maxValueChars = 300;
const maxEffectLines = 40;

export function slackMessage(
  event: NotificationEvent,
  options: { linkBase?: string | undefined } = {},
): SlackMessage {
  const link = subjectLink(event, options.linkBase);
  const message =
    "approval" in event ? approvalMessage(event.type, event.approval) : grantMessage(event);
  if (link !== undefined) {
    const what = "approval" in event ? "approval" : "grant";
    // Above the closing context line, which stays the footer.
    message.blocks.splice(-1, 0, section(`<${escapeUrl(link)}|Open this ${what} in Portcullis>`));
  }
  return message;
}

function approvalMessage(type: NotificationEvent["type"], approval: ApprovalView): SlackMessage {
  const { call, requester } = approval;
  const title = `${headline(type, approval)}: ${call.verb} ${resourceLabel(call)} ${objectLabel(call)}`;
  const blocks: SlackBlock[] = [header(title)];
  blocks.push({
    type: "section",
    fields: [
      field("Who", `${code(requester.username)} (${requester.kind})`),
      field("Session", code(requester.sessionId ?? "")),
      field("Command", code(requester.command ?? "")),
      field("Verb", code(call.verb)),
      field("Resource", code(resourceLabel(call))),
      field("Namespace", code(call.namespace)),
      field("Name", code(call.name)),
    ],
  });
  blocks.push(section(`*Why*\n${code(approval.rule.id)}: ${escapeMrkdwn(approval.rule.reason)}`));
  if (approval.effect !== undefined) {
    const effect = truncateEffect(approval.effect, slackLimits.sectionText / 2, maxEffectLines);
    blocks.push(section(`*Effect*\n${codeBlock(effect.text, slackLimits.sectionText - 40)}`));
  }
  if (type === "approval.requested") {
    const commands = approvalCommands(approval.id);
    blocks.push(section(`*Decide*\n${codeBlock(`${commands.approve}\n${commands.deny}`, 1000)}`));
  } else {
    blocks.push(section(`*Decisions*\n${decisionLines(approval)}`));
  }
  const { groups, required } = approval.approvers;
  const needs = `needs ${required} from ${groups.join(", ") || "any approver"}`;
  const footer = `Approval ${code(approval.id)} · ${escapeMrkdwn(needs)} · expires ${approval.expiresAt}`;
  blocks.push(context(footer));
  return { text: escapeMrkdwn(title), blocks };
}

function headline(type: NotificationEvent["type"], approval: ApprovalView): string {
  if (type === "approval.requested") return "Approval needed";
  switch (approval.state) {
    case "approved":
      return "Approved";
    case "denied":
      return "Denied";
    case "expired":
      return "Approval expired";
    case "cancelled":
      return "Approval cancelled";
    case "used":
      return "Approved call made";
    case "pending":
      return "Approval updated";
  }
}

function decisionLines(approval: ApprovalView): string {
  const lines = approval.decisions.map(
    (d) =>
      `• ${code(d.by)} ${d.decision === "approve" ? "approved" : "denied"}: ${escapeMrkdwn(d.reason)}`,
  );
  // Expiry and cancellation close an approval without a decision; the store says why.
  if (approval.closedReason) lines.push(`• ${escapeMrkdwn(approval.closedReason)}`);
  return lines.join("\n") || "—";
}

function grantMessage(event: NotificationEvent & { grant: GrantView }): SlackMessage {
  const { grant } = event;
  const revoked = event.type === "grant.revoked";
  const title = `${revoked ? "Grant revoked" : "Grant created"} for ${grant.subject}`;
  // Absent means any; "" in apiGroups is the core group, not "any".
  const list = (values: string[] | undefined) =>
    code(values === undefined ? "*" : values.join(", "));
  const groups = grant.scope.apiGroups.map((g) => (g === "" ? "core" : g));
  const fields = [
    field("For", code(grant.subject)),
    field("Granted by", code(grant.grantedBy)),
    field("Verbs", list(grant.scope.verbs)),
    field("API groups", list(groups)),
    field("Resources", list(grant.scope.resources)),
    field("Namespaces", list(grant.scope.namespaces)),
    field("Names", list(grant.scope.names)),
    field("Expires", escapeMrkdwn(grant.expiresAt)),
  ];
  if (grant.revokedBy !== undefined) fields.push(field("Revoked by", code(grant.revokedBy)));
  if (grant.fromApproval !== undefined)
    fields.push(field("From approval", code(grant.fromApproval)));
  const why =
    revoked && grant.revokeReason ? `*Why revoked*\n${escapeMrkdwn(grant.revokeReason)}` : "";
  return {
    text: escapeMrkdwn(title),
    blocks: [
      header(title),
      { type: "section", fields },
      section(`*Why granted*\n${escapeMrkdwn(grant.reason)}${why ? `\n${why}` : ""}`),
      context(`Grant ${code(grant.id)}`),
    ],
  };
}

function header(text: string): SlackBlock {
  const plain =
    text.length > slackLimits.header ? `${text.slice(0, slackLimits.header - 1)}…` : text;
  return { type: "header", text: { type: "plain_text", text: plain } };
}

function section(mrkdwn: string): SlackBlock {
  return { type: "section", text: { type: "mrkdwn", text: cut(mrkdwn, slackLimits.sectionText) } };
}

function field(label: string, mrkdwn: string): TextObject {
  return { type: "mrkdwn", text: cut(`*${label}*\n${mrkdwn}`, slackLimits.field) };
}

function context(mrkdwn: string): SlackBlock {
  return { type: "context", elements: [{ type: "mrkdwn", text: cut(mrkdwn, 3000) }] };
}

/** Slack's three control characters; everything else is shown as written. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** URLs go inside `<…|…>`, where a `|` or `>` would end them early. */
function escapeUrl(url: string): string {
  return escapeMrkdwn(url).replaceAll("|", "%7C");
}

function code(value: string): string {
  if (value === "") return "—";
  const shown = value.length > maxValueChars ? `${value.slice(0, maxValueChars)}…` : value;
  // A backtick would close the span and let the rest be formatted.
  return `\`${escapeMrkdwn(shown.replaceAll("`", "'"))}\``;
}

function codeBlock(text: string, maxChars: number): string {
  const escaped = escapeMrkdwn(text.replaceAll("```", "'''"));
  const body = escaped.length > maxChars ? `${cut(escaped, maxChars - 2)}\n…` : escaped;
  return `\`\`\`\n${body}\n\`\`\``;
}

/** Shortens escaped mrkdwn without splitting an `&amp;`-style entity. */
function cut(mrkdwn: string, max: number): string {
  if (mrkdwn.length <= max) return mrkdwn;
  let text = mrkdwn.slice(0, max - 1);
  const amp = text.lastIndexOf("&");
  if (amp !== -1 && text.indexOf(";", amp) === -1) text = text.slice(0, amp);
  return `${text}…`;
}
