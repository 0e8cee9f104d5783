/**
 * Whether a rule's match fields (everything but its condition) fit a request.
 * Every field given must match; within a field, any listed pattern may.
 * Answers with undefined for a match, or the reason it does not, for the trace.
 */
import { showPatterns } from "./glob.ts";
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
}

export function requestFacts(input: PolicyInput, allowListNamed: boolean): RequestFacts {
  const { resource, subresource } = input.requestInfo;
  return {
    input,
    verb: input.requestInfo.verb,
    resourceKey: subresource === "" ? resource : `${resource}/${subresource}`,
    allowListNamed,
  };
}

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
  if (rule.kinds && !rule.kinds.has(identity.kind)) return `caller is ${identity.kind}`;
  if (rule.subjects && !rule.subjects.test(identity.subject)) {
    return `subject ${identity.subject} not in ${showPatterns(rule.subjects)}`;
  }
  if (rule.usernames && !rule.usernames.test(identity.username)) {
    return `username ${identity.username} not in ${showPatterns(rule.usernames)}`;
  }
  if (rule.groups && !identity.groups.some((g) => rule.groups?.test(g))) {
    return `no group in ${showPatterns(rule.groups)}`;
  }
  if (rule.verbs && !rule.verbs.test(facts.verb)) {
    return `verb ${facts.verb} not in ${showPatterns(rule.verbs)}`;
  }
  if (rule.nonResourceURLs) {
    if (info.isResourceRequest) return "a resource request (the rule names nonResourceURLs)";
    if (!rule.nonResourceURLs.test(info.path)) {
      return `path ${info.path} not in ${showPatterns(rule.nonResourceURLs)}`;
    }
  }
  const why = matchResource(rule, facts);
  if (why !== undefined) return why;
  if (rule.namespaceSelector) {
    if (info.namespace === "") return "cluster-scoped request (the rule has a namespaceSelector)";
    const labels = facts.input.namespaceLabels;
    if (labels === undefined) {
      if (!assumeLabels) return `labels of namespace ${info.namespace} are unknown`;
    } else if (!selectorMatches(rule.namespaceSelector, labels)) {
      return `namespace ${info.namespace} does not match ${showSelector(rule.namespaceSelector)}`;
    }
  }
  if (rule.unlessAllowListed && facts.allowListNamed) {
    return `the agent's allow-list names ${facts.resourceKey}`;
  }
  return undefined;
}

function matchResource(rule: CompiledRule, facts: RequestFacts): string | undefined {
  const info = facts.input.requestInfo;
  const needsResource = rule.apiGroups || rule.resources || rule.namespaces || rule.names;
  if (!needsResource) return undefined;
  if (!info.isResourceRequest) return `non-resource request ${info.path}`;
  if (rule.apiGroups && !rule.apiGroups.test(info.apiGroup)) {
    return `API group "${info.apiGroup}" not in ${showPatterns(rule.apiGroups)}`;
  }
  if (rule.resources && !rule.resources.test(facts.resourceKey)) {
    return `resource ${facts.resourceKey} not in ${showPatterns(rule.resources)}`;
  }
  if (rule.namespaces) {
    if (info.namespace === "") return "cluster-scoped request (the rule names namespaces)";
    if (!rule.namespaces.test(info.namespace)) {
      return `namespace ${info.namespace} not in ${showPatterns(rule.namespaces)}`;
    }
  }
  if (rule.names && !rule.names.test(info.name)) {
    return `name "${info.name}" not in ${showPatterns(rule.names)}`;
  }
  return undefined;
}
