/**
 * `portcullis approvals` and `portcullis grants`: the approver's side of
 * just-in-time approval, over the gateway's authenticated HTTP API. The
 * approver is whoever the kubeconfig (or --token) authenticates as, exactly
 * as for kubectl, so the audit log names the person who decided.
 */
import { Command, Option } from "commander";
import { stringify } from "yaml";
import type { TargetDeliveries } from "../approvals/notify/deliver.ts";
import type { ApprovalRequest, Grant } from "../approvals/types.ts";
import { renderTable } from "./audit-read.ts";
import { type ClientOptions, call, withClientOptions } from "./gateway-api.ts";

function print(value: unknown, output: ClientOptions["output"], table: () => string): void {
  if (output === "json") process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else if (output === "yaml") process.stdout.write(stringify(value));
  else process.stdout.write(table());
}

const outputOption = () =>
  new Option("-o, --output <format>", "output format")
    .choices(["table", "json", "yaml"])
    .default("table");

function callLine(a: ApprovalRequest): string {
  const target = a.call.name ? `${a.call.resource}/${a.call.name}` : a.call.resource;
  return `${a.call.verb} ${target}${a.call.namespace ? ` -n ${a.call.namespace}` : ""}`;
}

function votes(a: ApprovalRequest): string {
  const yes = a.decisions.filter((d) => d.decision === "approve").length;
  return `${yes}/${a.approvers.required}`;
}

/** What an approver reads before deciding. */
export function renderApproval(a: ApprovalRequest): string {
  const effect = a.effect as { diff?: string; before?: unknown; unavailable?: string } | undefined;
  const lines = [
    `Approval ${a.id}  (${a.state}${a.closedReason ? `: ${a.closedReason}` : ""})`,
    `  asked:     ${a.createdAt}, decide before ${a.expiresAt} (${a.mode})`,
    `  who:       ${a.requester.username} (${a.requester.kind})${a.requester.sessionId ? `, session ${a.requester.sessionId}` : ""}`,
    ...(a.requester.command ? [`  command:   ${a.requester.command}`] : []),
    `  what:      ${callLine(a)}   [${a.call.method} ${a.call.path}]`,
    `  why:       rule ${a.rule.id}: ${a.rule.reason}`,
    `  approvers: ${a.approvers.groups.join(", ")}; ${a.approvers.required} needed, ${votes(a)} so far`,
    `  audit:     request ${a.requestId}`,
  ];
  for (const d of a.decisions)
    lines.push(`  decision:  ${d.at} ${d.by} ${d.decision}d: ${d.reason}`);
  if (effect?.unavailable) lines.push("", `Effect unavailable: ${effect.unavailable}`);
  if (effect?.diff)
    lines.push("", "Effect (dry-run, as the API server would apply it):", effect.diff.trimEnd());
  else if (a.call.verb === "delete" && effect?.before) {
    lines.push("", "Would delete:", stringify(effect.before).trimEnd());
  }
  return `${lines.join("\n")}\n`;
}

export function approvalsCommand(): Command {
  const command = new Command("approvals").description(
    "list, inspect and decide calls held for just-in-time approval",
  );
  withClientOptions(
    command
      .command("list")
      .description("approvals, newest first (pending ones by default)")
      .option("--state <states>", "comma-separated states, or 'all'", "pending")
      .option("--limit <n>", "most approvals to show", "100")
      .addOption(outputOption()),
  ).action(async (options: ClientOptions & { state: string; limit: string }) => {
    const state = options.state === "all" ? "" : `&state=${encodeURIComponent(options.state)}`;
    const query = `?limit=${encodeURIComponent(options.limit)}${state}`;
    const { items } = await call<{ items: ApprovalRequest[] }>(options, "GET", `approvals${query}`);
    print(items, options.output, () =>
      items.length === 0
        ? "no approvals\n"
        : `${renderTable(
            ["ID", "STATE", "REQUESTER", "CALL", "RULE", "VOTES", "EXPIRES"],
            items.map((a) => [
              a.id,
              a.state,
              a.requester.username,
              callLine(a),
              a.rule.id,
              votes(a),
              a.expiresAt,
            ]),
          )}\n`,
    );
  });
  withClientOptions(
    command
      .command("show")
      .description("who asks, what, why, and what it would do")
      .argument("<id>")
      .addOption(outputOption()),
  ).action(async (id: string, options: ClientOptions) => {
    const approval = await call<ApprovalRequest>(
      options,
      "GET",
      `approvals/${encodeURIComponent(id)}`,
    );
    print(approval, options.output, () => renderApproval(approval));
  });
  for (const decision of ["approve", "deny"] as const) {
    withClientOptions(
      command
        .command(decision)
        .description(
          decision === "approve"
            ? "approve a held call (it then proceeds)"
            : "deny a held call (the caller gets 403 with your reason)",
        )
        .argument("<id>")
        .requiredOption(
          "--reason <text>",
          "why: recorded in the audit log and shown to the caller",
        ),
    ).action(async (id: string, options: ClientOptions & { reason: string }) => {
      const approval = await call<ApprovalRequest>(
        options,
        "POST",
        `approvals/${encodeURIComponent(id)}/${decision}`,
        {
          reason: options.reason,
        },
      );
      process.stdout.write(
        `approval ${approval.id}: ${approval.state} (${votes(approval)} approvals)\n`,
      );
    });
  }
  withClientOptions(
    command
      .command("notifications")
      .description("recent webhook and Slack deliveries: what was sent, retried or given up")
      .addOption(outputOption()),
  ).action(async (options: ClientOptions) => {
    const { targets } = await call<{ targets: TargetDeliveries[] }>(
      options,
      "GET",
      "notifications",
    );
    const rows = targets.flatMap((t) =>
      t.deliveries.map((d) => [
        t.target,
        d.eventType,
        d.eventId,
        d.state,
        String(d.attempts),
        d.lastStatus === undefined ? (d.lastError ?? "-") : String(d.lastStatus),
        d.finishedAt ?? d.nextAttemptAt ?? d.queuedAt,
      ]),
    );
    print(targets, options.output, () =>
      rows.length === 0
        ? "no deliveries\n"
        : `${renderTable(["TARGET", "EVENT", "ID", "STATE", "ATTEMPTS", "LAST", "WHEN"], rows)}\n`,
    );
  });
  command.addHelpText(
    "after",
    `
Examples:
  $ portcullis approvals list --kubeconfig alice.kubeconfig
  $ portcullis approvals show apr-3f9a0c1d2e4b5a69 --kubeconfig alice.kubeconfig
  $ portcullis approvals approve apr-3f9a0c1d2e4b5a69 --reason "CHG-1234: planned cleanup" --kubeconfig alice.kubeconfig
  $ portcullis approvals deny apr-3f9a0c1d2e4b5a69 --reason "not during business hours" --kubeconfig alice.kubeconfig

The requester can never approve their own call, and only members of the
groups the rule names may decide.`,
  );
  return command;
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
}

function duration(value: string): number {
  const match = /^([1-9][0-9]*)(s|m|h)$/.exec(value);
  if (!match) throw new Error(`--for ${value}: a duration like 15m or 1h`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as "s" | "m" | "h"];
}

export function grantsCommand(): Command {
  const command = new Command("grants").description(
    "time-boxed elevations: let an agent make a kind of call without asking each time",
  );
  withClientOptions(
    command
      .command("list")
      .description("grants, newest first")
      .option("--active", "only grants in force now")
      .addOption(outputOption()),
  ).action(async (options: ClientOptions & { active?: boolean }) => {
    const { items } = await call<{ items: Grant[] }>(
      options,
      "GET",
      `grants${options.active ? "?active=true" : ""}`,
    );
    print(items, options.output, () =>
      items.length === 0
        ? "no grants\n"
        : `${renderTable(
            ["ID", "SUBJECT", "VERBS", "RESOURCES", "NAMESPACES", "EXPIRES", "REVOKED", "BY"],
            items.map((g) => [
              g.id,
              g.subject,
              g.scope.verbs.join(","),
              g.scope.resources.join(","),
              g.scope.namespaces.join(","),
              g.expiresAt,
              g.revokedAt ?? "-",
              g.grantedBy,
            ]),
          )}\n`,
    );
  });
  withClientOptions(
    command
      .command("create")
      .description("grant an agent a kind of call for a while")
      .requiredOption("--subject <username>", "who is elevated (the agent's Kubernetes user name)")
      .requiredOption("--verbs <list>", "e.g. delete")
      .requiredOption("--resources <list>", "e.g. deployments")
      .requiredOption("--namespaces <list>", "e.g. payments")
      .option("--api-groups <list>", 'API groups ("" is the core group)', "")
      .option("--names <list>", "object names (default: any)")
      .requiredOption("--for <duration>", "how long, e.g. 15m (at most 24h)")
      .requiredOption("--reason <text>", "why: recorded and shown in every call made under it"),
  ).action(
    async (
      options: ClientOptions & {
        subject: string;
        verbs: string;
        resources: string;
        namespaces: string;
        apiGroups: string;
        names?: string;
        for: string;
        reason: string;
      },
    ) => {
      const grant = await call<Grant>(options, "POST", "grants", {
        subject: options.subject,
        reason: options.reason,
        durationSeconds: duration(options.for),
        scope: {
          verbs: list(options.verbs),
          apiGroups: options.apiGroups === "" ? [""] : list(options.apiGroups),
          resources: list(options.resources),
          namespaces: list(options.namespaces),
          ...(options.names ? { names: list(options.names) } : {}),
        },
      });
      process.stdout.write(`grant ${grant.id}: ${grant.subject} until ${grant.expiresAt}\n`);
    },
  );
  withClientOptions(
    command
      .command("revoke")
      .description("end a grant at once")
      .argument("<id>")
      .requiredOption("--reason <text>", "why"),
  ).action(async (id: string, options: ClientOptions & { reason: string }) => {
    const grant = await call<Grant>(options, "POST", `grants/${encodeURIComponent(id)}/revoke`, {
      reason: options.reason,
    });
    process.stdout.write(`grant ${grant.id}: revoked at ${grant.revokedAt}\n`);
  });
  command.addHelpText(
    "after",
    `
Examples:
  $ portcullis grants create --subject portcullis:agent:deployer --verbs delete \\
      --resources deployments --api-groups apps --namespaces payments --for 15m \\
      --reason "CHG-1234 cleanup" --kubeconfig alice.kubeconfig
  $ portcullis grants list --active --kubeconfig alice.kubeconfig
  $ portcullis grants revoke grt-0a1b2c3d4e5f6789 --reason "done" --kubeconfig alice.kubeconfig`,
  );
  return command;
}
