/**
 * The gateway's upstream permissions: `impersonate` on the identity
 * attributes it forwards, and reading namespaces (their labels drive policy
 * namespaceSelectors); everything else it does upstream is authorized as the
 * impersonated caller. The attribute → RBAC resource
 * mapping follows k8s.io/apiserver's impersonation filter:
 *   Impersonate-User         users            (core group; serviceaccounts for system:serviceaccount:*)
 *   Impersonate-Group        groups           (core group)
 *   Impersonate-Uid          uids             (authentication.k8s.io)
 *   Impersonate-Extra-<key>  userextras/<key> (authentication.k8s.io)
 * On a refused legacy check, v1.37 falls back to constrained impersonation, so
 * a missing grant shows up as "cannot impersonate-on:user-info:<verb>".
 */
import { type ApiTarget, apiCall } from "./api.ts";
import { identities } from "./credentials.ts";

export const gatewayClusterRoleName = "portcullis:gateway-impersonator";

const clusterRole = {
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRole",
  metadata: { name: gatewayClusterRoleName },
  rules: [
    {
      apiGroups: [""],
      resources: ["users", "groups", "serviceaccounts"],
      verbs: ["impersonate"],
    },
    {
      // Namespace labels for policy namespaceSelectors (list + watch as itself).
      apiGroups: [""],
      resources: ["namespaces"],
      verbs: ["get", "list", "watch"],
    },
    {
      apiGroups: ["authentication.k8s.io"],
      // RBAC has no "userextras/*" wildcard (only "*" and "*/<subresource>"), and the extra
      // key is the subresource, so any key needs "*". In this group the `impersonate` verb
      // is consulted only for uids and userextras, so "*" grants exactly those two.
      resources: ["*"],
      verbs: ["impersonate"],
    },
  ],
};

const clusterRoleBinding = {
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRoleBinding",
  metadata: { name: gatewayClusterRoleName },
  roleRef: {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: gatewayClusterRoleName,
  },
  subjects: [
    { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: identities.gateway.user },
  ],
};

/** PUT creates or replaces (RBAC objects allow create-on-update), so a restart on the same data dir converges. */
export async function grantGatewayImpersonation(admin: ApiTarget): Promise<void> {
  const base = "/apis/rbac.authorization.k8s.io/v1";
  await apiCall(admin, "PUT", `${base}/clusterroles/${gatewayClusterRoleName}`, clusterRole);
  await apiCall(
    admin,
    "PUT",
    `${base}/clusterrolebindings/${gatewayClusterRoleName}`,
    clusterRoleBinding,
  );
}
