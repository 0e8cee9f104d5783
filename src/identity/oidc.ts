/**
 * Verifies OIDC JWTs from one trusted issuer on every request.
 *
 * Keys come from the issuer's discovery document and JWKS (jose's remote key
 * set): cached for `jwksCacheMaxAgeMs` (10 min), refetched when a token names a
 * `kid` the cached set lacks, but at most once per `jwksCooldownMs` (30 s), so a
 * flood of tokens with made-up kids costs the issuer one request, not one each.
 * Only asymmetric algorithms are accepted: `alg: none` and HS* (which would let
 * anyone holding the public key mint tokens) fail before any key is looked up.
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { rootCertificates } from "node:tls";
import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors,
  type FetchImplementation,
  type JWTPayload,
  jwtVerify,
  type RemoteJWKSet,
} from "jose";
import { PortcullisError } from "../errors.ts";
import type { Identity } from "./identity.ts";
import { effectivePrefix, type OidcIssuerConfig } from "./schema.ts";

export const allowedAlgorithms = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];

/** The fetch jose's remote key set calls; discovery uses it too. */
export type HttpsFetch = FetchImplementation;

export interface OidcVerifierOptions {
  /** Least time between two JWKS refetches caused by unknown kids. Default 30 s. */
  jwksCooldownMs?: number;
  /** Keys older than this are refetched before use. Default 10 min. */
  jwksCacheMaxAgeMs?: number;
  /** After a failed discovery, requests fail fast for this long, then retry. Default 5 s. */
  discoveryRetryMs?: number;
  /** Per HTTP request to the issuer. Default 5 s. */
  timeoutMs?: number;
  /** Replaces the HTTPS client (tests count requests with it). */
  fetch?: HttpsFetch;
}

export interface OidcVerifier {
  readonly issuer: string;
  verify(jwt: string): Promise<Identity>;
}

function unauthenticated(message: string, cause?: unknown): PortcullisError {
  return new PortcullisError("unauthenticated", message, { cause });
}

const maxResponseBytes = 1024 * 1024;

/**
 * A fetch over node:https, so an issuer-specific CA can be added to the default
 * roots without touching process-wide trust (and without an undici dispatcher).
 * It follows no redirects and caps the body, since the issuer is remote input.
 */
export function createHttpsFetch(extraCaPem?: string): HttpsFetch {
  const ca = extraCaPem === undefined ? undefined : [...rootCertificates, extraCaPem];
  return function httpsFetch(url, init) {
    return new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== "https:") {
        throw new Error(`refusing to fetch ${target.origin}: not https`);
      }
      const headers = Object.fromEntries(init.headers.entries());
      const req = request(target, { method: "GET", headers, ca, signal: init.signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) res.destroy(new Error("response body too large"));
          else chunks.push(chunk);
        });
        res.on("error", reject);
        res.on("end", () => {
          // Only a 200 body is ever read; Response refuses statuses outside 200-599.
          const code = res.statusCode ?? 0;
          const status = code >= 200 && code <= 599 ? code : 502;
          resolve(new Response(status === 200 ? Buffer.concat(chunks) : null, { status }));
        });
      });
      // jose maps a TimeoutError to JWKSTimeout; node would report a generic AbortError.
      req.on("error", (err) => reject(init.signal.aborted ? init.signal.reason : err));
      req.end();
    });
  };
}

function readExtraCa(config: OidcIssuerConfig): string | undefined {
  if (config.caFile === undefined) return config.ca;
  try {
    return readFileSync(config.caFile, "utf8");
  } catch (cause) {
    throw new Error(`portcullis: cannot read caFile ${config.caFile} for issuer ${config.issuer}`, {
      cause,
    });
  }
}

export function createOidcVerifier(
  config: OidcIssuerConfig,
  options: OidcVerifierOptions = {},
): OidcVerifier {
  const fetchImpl = options.fetch ?? createHttpsFetch(readExtraCa(config));
  const keySet = createKeySetLoader(config.issuer, fetchImpl, options);
  return {
    issuer: config.issuer,
    async verify(jwt: string): Promise<Identity> {
      const keys = await keySet();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(jwt, keys, {
          issuer: config.issuer,
          audience: config.audiences,
          clockTolerance: config.clockSkewSeconds,
          algorithms: allowedAlgorithms,
          requiredClaims: ["exp"],
        }));
      } catch (err) {
        throw unauthenticated(describeJoseError(err, jwt, config), err);
      }
      return identityFromClaims(payload, config);
    },
  };
}

/**
 * Discovery is fetched on first use, not at startup, so a gateway can start
 * while an IdP is down. A failure is remembered briefly (so an outage does not
 * turn every request into a discovery request) and then retried.
 */
function createKeySetLoader(
  issuer: string,
  fetchImpl: HttpsFetch,
  options: OidcVerifierOptions,
): () => Promise<RemoteJWKSet> {
  const retryMs = options.discoveryRetryMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  let pending: Promise<RemoteJWKSet> | undefined;
  let failedUntil = 0;
  return function loadKeySet(): Promise<RemoteJWKSet> {
    if (pending === undefined || (failedUntil !== 0 && Date.now() >= failedUntil)) {
      failedUntil = 0;
      const attempt = discoverJwksUri(issuer, fetchImpl, timeoutMs).then((jwksUri) =>
        createRemoteJWKSet(jwksUri, {
          cooldownDuration: options.jwksCooldownMs ?? 30_000,
          cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
          timeoutDuration: timeoutMs,
          [customFetch]: fetchImpl,
        }),
      );
      attempt.catch(() => {
        failedUntil = Date.now() + retryMs;
      });
      pending = attempt;
    }
    return pending;
  };
}

async function discoverJwksUri(issuer: string, fetchImpl: HttpsFetch, timeoutMs: number) {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  let document: unknown;
  try {
    const response = await fetchImpl(url, {
      method: "GET",
      redirect: "manual",
      headers: new Headers({ accept: "application/json" }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) throw new Error(`HTTP status ${response.status}`);
    document = await response.json();
  } catch (cause) {
    throw unauthenticated(
      `portcullis: cannot fetch the discovery document of issuer ${issuer}`,
      cause,
    );
  }
  const { issuer: advertised, jwks_uri: jwksUri } = (document ?? {}) as Record<string, unknown>;
  // A document for another issuer would let that issuer's keys vouch for this one.
  if (advertised !== issuer) {
    throw unauthenticated(
      `portcullis: discovery document of issuer ${issuer} names a different issuer`,
    );
  }
  const parsed = typeof jwksUri === "string" ? URL.parse(jwksUri) : null;
  if (parsed === null || parsed.protocol !== "https:") {
    throw unauthenticated(`portcullis: issuer ${issuer} publishes no https jwks_uri`);
  }
  return parsed;
}

function describeJoseError(err: unknown, jwt: string, config: OidcIssuerConfig): string {
  if (err instanceof errors.JWTExpired) return "portcullis: token expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "nbf":
        return "portcullis: token not yet valid (its nbf is in the future)";
      case "aud":
        return `portcullis: token audience does not include ${config.audiences.join(" or ")}`;
      case "iss":
        return `portcullis: token issuer is not ${config.issuer}`;
      case "exp":
        return "portcullis: token has no valid expiry (exp claim)";
      default:
        return `portcullis: token claim ${err.claim} is invalid`;
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return `portcullis: token signing algorithm ${headerAlg(jwt)} is not allowed; accepted: ${allowedAlgorithms.join(", ")}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return "portcullis: token signature is invalid";
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return `portcullis: token is signed by a key that issuer ${config.issuer} does not publish`;
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return `portcullis: token names no key id and issuer ${config.issuer} publishes several candidates`;
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return "portcullis: token is not a well-formed JWT";
  }
  if (err instanceof errors.JOSENotSupported) {
    return "portcullis: token uses an unsupported algorithm or key type";
  }
  if (err instanceof errors.JWKSTimeout) {
    return `portcullis: timed out fetching the signing keys of issuer ${config.issuer}`;
  }
  // What is left of jose's errors is about the JWKS response; coded non-ERR_ errors are
  // socket and TLS failures (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...).
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof errors.JOSEError || (typeof code === "string" && !code.startsWith("ERR_"))) {
    return `portcullis: cannot fetch the signing keys of issuer ${config.issuer}`;
  }
  return `portcullis: token could not be verified with the keys of issuer ${config.issuer}`;
}

/** The (unverified) alg header, quoted and shortened: it is attacker-chosen text. */
function headerAlg(jwt: string): string {
  try {
    return JSON.stringify(String(decodeProtectedHeader(jwt).alg).slice(0, 20));
  } catch {
    return "(unreadable)";
  }
}

function identityFromClaims(claims: JWTPayload, config: OidcIssuerConfig): Identity {
  const { sub, iss, jti } = claims;
  if (typeof sub !== "string" || sub === "") {
    throw unauthenticated("portcullis: token has no subject (sub claim)");
  }
  const name = claims[config.usernameClaim];
  if (typeof name !== "string" || name === "") {
    throw unauthenticated(
      `portcullis: token claim ${config.usernameClaim} (the username) is missing or not a string`,
    );
  }
  // Same rule as the API server's OIDC authenticator: an unverified email is no name.
  if (config.usernameClaim === "email" && claims.email_verified !== undefined) {
    if (claims.email_verified !== true)
      throw unauthenticated("portcullis: token email is not verified");
  }
  const groupsPrefix = effectivePrefix(config.groupsPrefix);
  const identity: Identity = {
    subject: sub,
    issuer: iss ?? config.issuer,
    kind: kindFromClaims(claims, config),
    username: effectivePrefix(config.usernamePrefix) + name,
    groups: readGroups(claims[config.groupsClaim], config.groupsClaim).map((g) => groupsPrefix + g),
    uid: sub,
    extra: { "portcullis.dev/issuer": [iss ?? config.issuer] },
    method: "oidc",
  };
  if (typeof jti === "string") identity.tokenId = jti;
  refuseReservedNames(identity);
  return identity;
}

function readGroups(value: unknown, claim: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((g) => typeof g === "string")) return value;
  throw unauthenticated(
    `portcullis: token claim ${claim} (the groups) is not a string or a list of strings`,
  );
}

function kindFromClaims(claims: JWTPayload, config: OidcIssuerConfig): Identity["kind"] {
  if (config.kindClaim === undefined) return config.kind;
  const value = claims[config.kindClaim];
  if (value === undefined) return config.kind;
  if (value === "agent" || value === "human") return value;
  throw unauthenticated(`portcullis: token claim ${config.kindClaim} must be "agent" or "human"`);
}

/**
 * The gateway impersonates whatever name it is given; `system:` names (such as
 * the group system:masters) carry built-in cluster powers, so an IdP claim must
 * never produce one.
 */
export function refuseReservedNames(identity: Identity): void {
  const reserved = [identity.username, ...identity.groups].find((n) => n.startsWith("system:"));
  if (reserved !== undefined) {
    throw unauthenticated(`portcullis: token maps to the reserved Kubernetes name ${reserved}`);
  }
}
