/** Kubernetes label selectors (metav1.LabelSelector) over a label map. */
import type { LabelSelector } from "./schema.ts";

export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(labels, key);
    switch (operator) {
      case "In":
        if (!present || !values.includes(labels[key])) return false;
        break;
      case "NotIn":
        if (present && values.includes(labels[key])) return false;
        break;
      case "Exists":
        if (!present) return false;
        break;
      case "DoesNotExist":
        if (present) return false;
        break;
    }
  }
  return true;
}

/** `tier=production, env in (a, b)`: the selector as kubectl would write it. */
export function showSelector(selector: LabelSelector): string {
  const terms = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === "Exists") terms.push(key);
    else if (operator === "DoesNotExist") terms.push(`!${key}`);
    else terms.push(`${key} ${operator === "In" ? "in" : "notin"} (${values.join(", ")})`);
  }
  return terms.length === 0 ? "(everything)" : terms.join(", ");
}
