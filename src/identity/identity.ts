/** Who is calling, after authentication. */
export interface Identity {
  /** Stable subject, e.g. the OIDC `sub` or the agent token's name. */
  subject: string;
  /** OIDC issuer URL, or `portcullis` for Portcullis agent tokens. */
  issuer: string;
  kind: "agent" | "human";
  /** Kubernetes user name the gateway impersonates. */
  username: string;
  /** Kubernetes groups the gateway impersonates. */
  groups: string[];
  /** Kubernetes UID to impersonate, when known. */
  uid?: string;
  /** Extra attributes carried as `Impersonate-Extra-*`. */
  extra: Record<string, string[]>;
  /** Token identifier (JWT `jti` or agent token id), for the audit log. */
  tokenId?: string;
  /** How the caller proved it: an OIDC JWT or a Portcullis agent token. */
  method: "oidc" | "agent-token";
}
