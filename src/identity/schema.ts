/**
 * The `authentication:` section of the config file: which OIDC issuers are
 * trusted and how their claims become Kubernetes users, and how Portcullis
 * agent tokens are named. Objects are strict so a misspelt key is an error
 * instead of a silently ignored setting.
 */
import { z } from "zod";

/** Which guardrails apply to a caller: an autonomous agent or a person. */
export const identityKindSchema = z.enum(["agent", "human"]);

function isHttpsUrl(value: string): boolean {
  const url = URL.parse(value);
  return url !== null && url.protocol === "https:" && url.hash === "" && url.search === "";
}

const nonEmpty = z.string().min(1);

export const oidcIssuerSchema = z
  .object({
    /** Compared byte for byte with the discovery document and the token's `iss`. */
    issuer: nonEmpty.refine(isHttpsUrl, {
      message: "issuer must be an https URL without query or fragment",
    }),
    audiences: z.array(nonEmpty).min(1),
    /** Extra CA (PEM file) trusted for the issuer's discovery and JWKS endpoints. */
    caFile: nonEmpty.optional(),
    /** Inline PEM; same meaning as caFile (handy in tests). */
    ca: nonEmpty.optional(),
    usernameClaim: nonEmpty.default("sub"),
    /** "-" means no prefix. A prefix keeps IdP names from colliding with cluster users. */
    usernamePrefix: z.string().default("oidc:"),
    groupsClaim: nonEmpty.default("groups"),
    groupsPrefix: z.string().default(""),
    /** Callers are agents unless told otherwise: the stricter guardrails are the safe default. */
    kind: identityKindSchema.default("agent"),
    kindClaim: nonEmpty.optional(),
    clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  })
  .strict()
  .refine((issuer) => issuer.ca === undefined || issuer.caFile === undefined, {
    message: "set either ca or caFile, not both",
  });

export const agentTokensSchema = z
  .object({
    usernamePrefix: z.string().default("portcullis:agent:"),
    /** Added to every agent token identity. */
    groups: z.array(nonEmpty).default(["portcullis:agents"]),
  })
  .strict();

export const authenticationSchema = z
  .object({
    oidc: z.array(oidcIssuerSchema).default([]),
    agentTokens: agentTokensSchema.default({
      usernamePrefix: "portcullis:agent:",
      groups: ["portcullis:agents"],
    }),
  })
  .strict()
  .superRefine((section, ctx) => {
    // The issuer picks the verifier, so two entries for one issuer would be ambiguous.
    const seen = new Set<string>();
    section.oidc.forEach((entry, index) => {
      if (seen.has(entry.issuer)) {
        ctx.addIssue({
          code: "custom",
          path: ["oidc", index, "issuer"],
          message: `issuer ${entry.issuer} is listed more than once`,
        });
      }
      seen.add(entry.issuer);
    });
  });

export type IdentityKind = z.infer<typeof identityKindSchema>;
/** An issuer entry after defaults are applied. */
export type OidcIssuerConfig = z.infer<typeof oidcIssuerSchema>;
/** An issuer entry as written in the file (defaults optional). */
export type OidcIssuerInput = z.input<typeof oidcIssuerSchema>;
export type AgentTokensConfig = z.infer<typeof agentTokensSchema>;
export type AuthenticationConfig = z.infer<typeof authenticationSchema>;

/** The username prefix as configured, with "-" meaning none. */
export function effectivePrefix(prefix: string): string {
  return prefix === "-" ? "" : prefix;
}
