import type { OutgoingHttpHeaders } from "node:http";
import { PortcullisError } from "../errors.ts";
import type { Identity } from "../identity/identity.ts";

// Visible ASCII and spaces only: Node refuses other bytes in header values,
// and a username with control characters is no name we want to assert.
const safeHeaderValue = /^[\x20-\x7e]*$/;

function checked(what: string, value: string): string {
  if (!safeHeaderValue.test(value)) {
    throw new PortcullisError(
      "unauthenticated",
      `portcullis: the ${what} in your credential contains characters that cannot be impersonated (only printable ASCII is supported)`,
    );
  }
  return value;
}

/**
 * `Impersonate-Extra-<key>` keys are case-insensitive and percent-escaped by
 * the API server's rules (unescaped with url.PathUnescape after lower-casing),
 * so any byte outside an HTTP token is escaped here.
 */
export function escapeExtraKey(key: string): string {
  return Array.from(Buffer.from(key.toLowerCase(), "utf8"))
    .map((byte) => {
      const ch = String.fromCharCode(byte);
      return /[a-z0-9!#$&'*+.^_`|~-]/.test(ch)
        ? ch
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");
}

/** The headers that make the API server treat this call as the caller's. */
export function impersonationHeaders(identity: Identity): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    "impersonate-user": checked("user name", identity.username),
  };
  if (identity.groups.length > 0) {
    headers["impersonate-group"] = identity.groups.map((g) => checked("group", g));
  }
  if (identity.uid !== undefined && identity.uid !== "") {
    headers["impersonate-uid"] = checked("uid", identity.uid);
  }
  for (const [key, values] of Object.entries(identity.extra)) {
    if (values.length === 0) continue;
    headers[`impersonate-extra-${escapeExtraKey(key)}`] = values.map((v) => checked("extra", v));
  }
  return headers;
}
