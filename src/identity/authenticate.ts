/**
 * Turns the Authorization header into an Identity, or throws "unauthenticated".
 *
 * It takes every value of the header (the server passes
 * `req.headersDistinct.authorization`): Node keeps only the first of duplicate
 * Authorization headers in `req.headers`, and two credentials in one request
 * are refused rather than guessed between.
 */
import { decodeJwt } from "jose";
import { PortcullisError } from "../errors.ts";
import { type AgentTokenStore, agentTokenPrefix } from "./agent-tokens.ts";
import type { Identity } from "./identity.ts";
import { createOidcVerifier, type OidcVerifier, type OidcVerifierOptions } from "./oidc.ts";
import type { OidcIssuerConfig } from "./schema.ts";

export interface AuthenticatorOptions {
  oidc: OidcIssuerConfig[];
  agentTokens: AgentTokenStore;
  /** Passed to every OIDC verifier (tests shorten the JWKS cooldown with it). */
  oidcOptions?: OidcVerifierOptions;
}

export interface Authenticator {
  authenticate(authorization: string[] | undefined): Promise<Identity>;
}

const noCredentials =
  "portcullis: no credentials: send a bearer token (an OIDC ID token or a Portcullis agent token)";

function unauthenticated(message: string, cause?: unknown): PortcullisError {
  return new PortcullisError("unauthenticated", message, { cause });
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const verifiers = new Map<string, OidcVerifier>();
  for (const issuer of options.oidc) {
    verifiers.set(issuer.issuer, createOidcVerifier(issuer, options.oidcOptions));
  }
  return {
    async authenticate(authorization: string[] | undefined): Promise<Identity> {
      const token = bearerToken(authorization);
      if (token.startsWith(agentTokenPrefix)) return options.agentTokens.verify(token);
      return verifierFor(token, verifiers).verify(token);
    },
  };
}

/** The one bearer token in the header values, or an explanation of what is wrong. */
export function bearerToken(values: string[] | undefined): string {
  if (values === undefined || values.length === 0) throw unauthenticated(noCredentials);
  if (values.length > 1) {
    throw unauthenticated("portcullis: multiple Authorization headers: send exactly one");
  }
  const value = (values[0] ?? "").trim();
  if (value === "") throw unauthenticated(noCredentials);
  const [scheme = "", ...rest] = value.split(/[ \t]+/);
  switch (scheme.toLowerCase()) {
    case "bearer":
      if (rest.length !== 1) {
        throw unauthenticated(
          "portcullis: malformed Authorization header: expected 'Bearer <token>'",
        );
      }
      return rest[0] ?? "";
    case "basic":
      throw unauthenticated(
        "portcullis: Basic authentication is not supported: send a bearer token",
      );
    default:
      // The scheme is not echoed: it is client text, and some clients put secrets there.
      throw unauthenticated("portcullis: unsupported Authorization scheme: send a bearer token");
  }
}

/**
 * Picks the verifier by the token's own (not yet verified) `iss`. That is safe
 * because the chosen verifier then checks `iss` and the signature against that
 * issuer's keys; a token that lies about its issuer fails there.
 */
function verifierFor(token: string, verifiers: Map<string, OidcVerifier>): OidcVerifier {
  let issuer: unknown;
  try {
    issuer = decodeJwt(token).iss;
  } catch (cause) {
    throw unauthenticated(
      "portcullis: bearer token is neither a Portcullis agent token nor a well-formed JWT",
      cause,
    );
  }
  if (typeof issuer !== "string" || issuer === "") {
    throw unauthenticated("portcullis: token has no issuer (iss claim)");
  }
  const verifier = verifiers.get(issuer);
  if (verifier === undefined) {
    throw unauthenticated(
      `portcullis: token issuer ${JSON.stringify(issuer.slice(0, 200))} is not a trusted issuer`,
    );
  }
  return verifier;
}
