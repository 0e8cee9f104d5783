/**
 * The policy file, validated strictly: an unknown or misspelt field is an
 * error, never silently ignored (a typo in a guardrail must not disable it).
 */
import { z } from "zod";
import { auditLevels } from "../audit/record.ts";

const name = z.string().min(1);
/** Non-empty list of patterns; `*` in a pattern matches any run of characters. */
const patterns = z.array(z.string()).min(1, "must list at least one value");
export const actions = ["allow", "deny", "approve"] as const;
export type Action = (typeof actions)[number];
const action = z.enum(actions);

const identityMatchSchema = z
  .object({
    kinds: z.array(z.enum(["agent", "human"])).min(1),
    subjects: patterns,
    usernames: patterns,
    groups: patterns,
  })
  .partial()
  .strict();

const selectorRequirementSchema = z
  .object({
    key: name,
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
    values: z.array(z.string()).optional(),
  })
  .strict()
  .refine(
    (r) =>
      r.operator === "In" || r.operator === "NotIn"
        ? (r.values?.length ?? 0) > 0
        : (r.values?.length ?? 0) === 0,
    { message: "In and NotIn need values; Exists and DoesNotExist take none" },
  );

const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z.array(selectorRequirementSchema).optional(),
  })
  .strict();
export type LabelSelector = z.output<typeof labelSelectorSchema>;

const port = z.number().int().min(1).max(65535);
/** A port, or an inclusive range written "9000-9100". */
const portOrRange = z.union([
  port,
  z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, 'a port number or a range like "9000-9100"')
    .transform((text) => text.split("-").map(Number) as [number, number])
    .refine(
      ([lo, hi]) => lo >= 1 && hi <= 65535 && lo <= hi,
      "a range of ports from 1 to 65535, low first",
    ),
]);

const matchSchema = z
  .object({
    identity: identityMatchSchema,
    verbs: patterns,
    apiGroups: patterns,
    /** `resource` or `resource/subresource`; `*` matches subresources too. */
    resources: patterns,
    namespaces: patterns,
    namespaceSelector: labelSelectorSchema,
    names: patterns,
    /** Paths of non-resource requests (/healthz, /version); only those match. */
    nonResourceURLs: patterns,
    /**
     * The rule does not apply when the calling agent's allow-list names the
     * request's resource exactly (a pattern with `*` does not count).
     */
    unlessAllowListed: z.boolean(),
    /**
     * Port-forward: the pod ports this rule covers (`8080`, `"9000-9100"`).
     * Such a rule matches only pods/portforward calls and must name its pods.
     */
    ports: z.array(portOrRange).min(1, "must list at least one port"),
    /** The rule does not apply when an allow or approve rule with `ports` covers the port-forward. */
    unlessPortNamed: z.boolean(),
  })
  .partial()
  .strict()
  .refine((m) => m.ports === undefined || m.names !== undefined, {
    message: "a rule with ports must name the pods it opens (names)",
    path: ["ports"],
  });
export type RuleMatch = z.output<typeof matchSchema>;

/** `90s`, `10m`, `1h`: a duration of at most a day. */
const duration = z
  .string()
  .regex(/^[1-9][0-9]*(s|m|h)$/, "a duration like 90s, 10m or 1h")
  .transform(
    (text) =>
      Number(text.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[text.slice(-1) as "s" | "m" | "h"],
  )
  .refine((seconds) => seconds <= 86_400, "at most 24h");

export const approvalSchema = z
  .object({
    /** Groups whose members may approve; the requester never may. */
    approvers: z.array(name).min(1).default(["portcullis:approvers"]),
    /** Distinct approvals needed. */
    required: z.number().int().min(1).max(10).default(1),
    /**
     * `hold`: the call waits for the decision (the client just waits).
     * `retry`: the call is answered at once with a 403 carrying the approval
     * id; once approved, the same call by the same caller passes once.
     */
    mode: z.enum(["hold", "retry"]).default("hold"),
    /** hold: how long the call waits; retry: how long an approval stays usable. */
    timeout: duration.default(600),
  })
  .strict();
export type ApprovalSpec = z.output<typeof approvalSchema>;

const ruleSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, "ids are letters, digits, . _ / -"),
    reason: name,
    match: matchSchema.default({}),
    condition: z.string().min(1).optional(),
    action,
    message: name.optional(),
    audit: z
      .object({ level: z.enum(auditLevels) })
      .strict()
      .optional(),
    masking: z.object({ profile: name }).strict().optional(),
    /** For `action: approve`: who may approve, how many, and how the caller waits. */
    approval: approvalSchema.optional(),
    /**
     * Streams the gateway cannot inspect (exec or attach over SPDY, from a
     * kubectl before 1.30) are refused; `unrecorded: allow` lets them pass,
     * relayed byte for byte and not recorded, masked or guarded. Each such
     * call's records say so.
     */
    streams: z
      .object({ unrecorded: z.enum(["allow", "refuse"]) })
      .strict()
      .optional(),
  })
  .strict()
  .refine((rule) => rule.streams?.unrecorded !== "allow" || rule.action !== "deny", {
    message: "streams.unrecorded: allow is for rules that allow or ask approval",
    path: ["streams"],
  })
  .refine((rule) => rule.approval === undefined || rule.action === "approve", {
    message: "approval is set only on rules whose action is approve",
    path: ["approval"],
  });
export type RuleSpec = z.output<typeof ruleSchema>;

const agentGrantSchema = z
  .object({
    verbs: patterns,
    apiGroups: patterns.optional(),
    resources: patterns.optional(),
    /** Omitted: every namespace and cluster-scoped resources. */
    namespaces: patterns.optional(),
    names: patterns.optional(),
    nonResourceURLs: patterns.optional(),
  })
  .strict()
  .refine((g) => (g.resources === undefined) !== (g.nonResourceURLs === undefined), {
    message: "an allow entry names either resources or nonResourceURLs",
  });
export type AgentGrantSpec = z.output<typeof agentGrantSchema>;

const agentSchema = z
  .object({
    /** The agent's subject (its token name); also names the rule id `agents/<name>`. */
    name,
    /** Match by Kubernetes username instead of subject. */
    username: name.optional(),
    allow: z.array(agentGrantSchema),
  })
  .strict();
export type AgentSpec = z.output<typeof agentSchema>;

const testIdentitySchema = z
  .object({
    subject: name,
    kind: z.enum(["agent", "human"]),
    issuer: name.optional(),
    username: name.optional(),
    groups: z.array(z.string()).default([]),
    uid: z.string().optional(),
  })
  .strict();

const testSchema = z
  .object({
    name,
    request: z
      .object({
        method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
        path: z.string().startsWith("/"),
        identity: testIdentitySchema,
        object: z.unknown().optional(),
        oldObject: z.unknown().optional(),
        namespaceLabels: z.record(z.string(), z.string()).optional(),
      })
      .strict(),
    expect: action,
    rule: name.optional(),
  })
  .strict();
export type PolicyTestSpec = z.output<typeof testSchema>;
export type TestIdentitySpec = z.output<typeof testIdentitySchema>;

export const policySchema = z
  .object({
    apiVersion: z.literal("portcullis.dev/v1"),
    kind: z.literal("Policy"),
    metadata: z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/) }).strict(),
    spec: z
      .object({
        defaultAction: action,
        defaultMessage: name.optional(),
        agents: z.array(agentSchema).default([]),
        rules: z.array(ruleSchema).default([]),
        tests: z.array(testSchema).default([]),
      })
      .strict(),
  })
  .strict();
export type PolicyDocument = z.output<typeof policySchema>;
