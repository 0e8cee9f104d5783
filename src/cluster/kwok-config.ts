/**
 * What a fake node's pods answer to `kubectl logs`, `exec` and
 * `port-forward`, as kwok's ClusterLogs, ClusterExec and ClusterPortForward
 * objects for its --config file. kwok consults the objects in order and the
 * first one whose selector matches the pod and that has an entry for the
 * container (or port), or a catch-all entry, wins; a pod nothing matches
 * answers with an error.
 */
import { stringify } from "yaml";

/** The pods a rule applies to; an unset list matches every namespace, pod or container. */
export interface PodSelector {
  namespaces?: string[];
  pods?: string[];
  containers?: string[];
}

export interface LogsRule extends PodSelector {
  /** A CRI-format log file (see ./cri-log.ts); appending to it reaches `kubectl logs -f`. */
  file: string;
  /** Served for `kubectl logs --previous`. */
  previousFile?: string;
}

/** `kubectl exec` runs the requested command on this machine, as the user running kwok. */
export interface ExecRule extends PodSelector {
  workDir?: string;
  /** Added to kwok's own environment. */
  env?: Record<string, string>;
}

export interface PortForwardRule extends Omit<PodSelector, "containers"> {
  /** The pod ports this applies to; all of them when unset. */
  ports?: number[];
  /** Where connections to those ports go. */
  target: { port: number; address?: string };
}

export interface KwokRules {
  logs?: LogsRule[];
  exec?: ExecRule[];
  portForwards?: PortForwardRule[];
}

interface KwokObject {
  apiVersion: "kwok.x-k8s.io/v1alpha1";
  kind: "ClusterLogs" | "ClusterExec" | "ClusterPortForward";
  metadata: { name: string };
  spec: Record<string, unknown>;
}

export function kwokRuleObjects(rules: KwokRules): KwokObject[] {
  const logs = (rules.logs ?? []).map((rule, index) =>
    kwokObject("ClusterLogs", `logs-${index}`, rule, {
      logs: [
        {
          ...containers(rule),
          logsFile: rule.file,
          ...(rule.previousFile ? { previousLogsFile: rule.previousFile } : {}),
          follow: true,
        },
      ],
    }),
  );
  const execs = (rules.exec ?? []).map((rule, index) =>
    kwokObject("ClusterExec", `exec-${index}`, rule, {
      execs: [
        {
          ...containers(rule),
          local: {
            ...(rule.workDir ? { workDir: rule.workDir } : {}),
            envs: Object.entries(rule.env ?? {}).map(([name, value]) => ({ name, value })),
          },
        },
      ],
    }),
  );
  const forwards = (rules.portForwards ?? []).map((rule, index) =>
    kwokObject("ClusterPortForward", `port-forward-${index}`, rule, {
      forwards: [
        {
          ...(rule.ports?.length ? { ports: rule.ports } : {}),
          target: { address: rule.target.address ?? "127.0.0.1", port: rule.target.port },
        },
      ],
    }),
  );
  return [...logs, ...execs, ...forwards];
}

/** One multi-document YAML file, as kwok's --config reads it. */
export function renderKwokConfig(objects: object[]): string {
  return objects.map((object) => stringify(object)).join("---\n");
}

function kwokObject(
  kind: KwokObject["kind"],
  name: string,
  selector: Omit<PodSelector, "containers">,
  spec: Record<string, unknown>,
): KwokObject {
  const matches = {
    ...(selector.namespaces?.length ? { matchNamespaces: selector.namespaces } : {}),
    ...(selector.pods?.length ? { matchNames: selector.pods } : {}),
  };
  return {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind,
    metadata: { name },
    spec: { ...(Object.keys(matches).length > 0 ? { selector: matches } : {}), ...spec },
  };
}

function containers(selector: PodSelector): { containers?: string[] } {
  return selector.containers?.length ? { containers: selector.containers } : {};
}
