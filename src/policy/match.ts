/**
 * Whether a rule's match fields (everything but its condition) fit a request.
 * Every field given must match; within a field, any listed pattern may.
 * Answers with undefined for a match, or the reason it does not, for the trace.
 */
import { type PatternSet, showPatterns } from "./glob.ts";
import { selectorMatches, showSelector } from "./labels.ts";
import type { CompiledRule, PolicyInput } from "./types.ts";

/** What matching looks at, computed once per request. */
export interface RequestFacts {
  input: PolicyInput;
  verb: string;
  /** `resource` or `resource/subresource`. */
  resourceKey: string;
  /** The caller is an agent whose allow-list names `resourceKey` without a wildcard. */
  allowListNamed: boolean;
  /** A port-forward whose pod and every port an allow or approve rule with `ports` names. */
  portNamed: boolean;
}

export function requestFacts(input: PolicyInput, allowListNamed: boolean): RequestFacts {
  const { resource, subresource } = input.requestInfo;
  return {
    input,
    verb: input.requestInfo.verb,
    resourceKey: subresource === "" ? resource : `${resource}/${subresource}`,
    allowListNamed,
    portNamed: false,
  };
}

/**
 * Why a rule does not match, one sentence per field, written once at load:
 * evaluation then builds no strings (the request's own values are in the
 * explanation's classification line).
 */
export interface SkipReasons {
  kinds: string;
  subjects: string;
  usernames: string;
  groups: string;
  verbs: string;
  nonResourceURLs: string;
  apiGroups: string;
  resources: string;
  namespaces: string;
  names: string;
  namespaceSelector: string;
  ports: string;
}

export function skipReasons(rule: Omit<CompiledRule, "skip">): SkipReasons {
  const list = (set: PatternSet | undefined) => (set === undefined ? "" : showPatterns(set));
  return {
    kinds: `caller is not ${[...(rule.kinds ?? [])].join(" or ")}`,
    subjects: `subject not in ${list(rule.subjects)}`,
    usernames: `username not in ${list(rule.usernames)}`,
    groups: `no group in ${list(rule.groups)}`,
    verbs: `verb not in ${list(rule.verbs)}`,
    nonResourceURLs: `path not in ${list(rule.nonResourceURLs)}`,
    apiGroups: `API group not in ${list(rule.apiGroups)}`,
    resources: `resource not in ${list(rule.resources)}`,
    namespaces: `namespace not in ${list(rule.namespaces)}`,
    names: `name not in ${list(rule.names)}`,
    namespaceSelector: rule.namespaceSelector
      ? `namespace labels do not match ${showSelector(rule.namespaceSelector)}`
      : "",
    ports: `a port of the call is not in ${rule.ports?.text ?? ""}`,
  };
}

const RESOURCE_ONLY = "a resource request (the rule names nonResourceURLs)";
const CLUSTER_SCOPED_SELECTOR = "cluster-scoped request (the rule has a namespaceSelector)";
const CLUSTER_SCOPED_NAMESPACES = "cluster-scoped request (the rule names namespaces)";
const NON_RESOURCE = "non-resource request (the rule names resources)";
const NOT_PORT_FORWARD = "not a port-forward (the rule names ports)";

/**
 * @param assumeLabels treat unknown namespace labels as matching (to ask
 *   "could this rule apply?"); otherwise they do not match.
 */
export function matchRule(
  rule: CompiledRule,
  facts: RequestFacts,
  assumeLabels = false,
): string | undefined {
  const { identity, requestInfo: info } = facts.input;
  const skip = rule.skip;
  if (rule.kinds && !rule.kinds.has(identity.kind)) return skip.kinds;
  if (rule.subjects && !rule.subjects.test(identity.subject)) return skip.subjects;
  if (rule.usernames && !rule.usernames.test(identity.username)) return skip.usernames;
  if (rule.groups && !anyGroup(rule.groups, identity.groups)) return skip.groups;
  if (rule.verbs && !rule.verbs.test(facts.verb)) return skip.verbs;
  if (rule.nonResourceURLs) {
    if (info.isResourceRequest) return RESOURCE_ONLY;
    if (!rule.nonResourceURLs.test(info.path)) return skip.nonResourceURLs;
  }
  const why = matchResource(rule, facts);
  if (why !== undefined) return why;
  if (rule.namespaceSelector) {
    if (info.namespace === "") return CLUSTER_SCOPED_SELECTOR;
    const labels = facts.input.namespaceLabels;
    if (labels === undefined) {
      if (!assumeLabels) return `labels of namespace ${info.namespace} are unknown`;
    } else if (!selectorMatches(rule.namespaceSelector, labels)) {
      return skip.namespaceSelector;
    }
  }
  if (rule.ports) {
    if (facts.resourceKey !== "pods/portforward") return NOT_PORT_FORWARD;
    // No ports yet (kubectl's SPDY protocols): each connection is judged with its own.
    const ports = facts.input.portForward?.ports ?? [];
    if (!ports.every((port) => rule.ports?.has(port))) return skip.ports;
  }
  if (rule.unlessAllowListed && facts.allowListNamed) {
    return `the agent's allow-list names ${facts.resourceKey}`;
  }
  if (rule.unlessPortNamed && facts.portNamed) {
    return "a rule names this pod and its ports";
  }
  return undefined;
}

function anyGroup(patterns: PatternSet, groups: readonly string[]): boolean {
  for (const group of groups) if (patterns.test(group)) return true;
  return false;
}

function matchResource(rule: CompiledRule, facts: RequestFacts): string | undefined {
  const info = facts.input.requestInfo;
  if (!rule.needsResource) return undefined;
  if (!info.isResourceRequest) return NON_RESOURCE;
  if (rule.apiGroups && !rule.apiGroups.test(info.apiGroup)) return rule.skip.apiGroups;
  if (rule.resources && !rule.resources.test(facts.resourceKey)) return rule.skip.resources;
  if (rule.namespaces) {
    if (info.namespace === "") return CLUSTER_SCOPED_NAMESPACES;
    if (!rule.namespaces.test(info.namespace)) return rule.skip.namespaces;
  }
  if (rule.names && !rule.names.test(info.name)) return rule.skip.names;
  return undefined;
}
