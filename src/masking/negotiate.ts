/**
 * Content negotiation for masked responses. To mask an answer the gateway
 * must read it, so it asks the API server for JSON, uncompressed, whatever
 * the client asked for, and answers the client in a form the client accepts:
 * the JSON itself, or that JSON re-encoded as CBOR (./cbor.ts) for a client
 * that accepts CBOR but not JSON. Protobuf and YAML cannot be produced (the
 * gateway has no protobuf schemas), so a client that accepts only those is
 * refused with 406 and told to ask for JSON.
 *
 * What real clients send (Kubernetes 1.37.2; captured from kubectl and
 * client-go v0.37.2 against a recording server, and read in their source):
 *
 * - kubectl get (k8s.io/kubectl pkg/cmd/get/get.go, transformRequests), lists
 *   and watches alike:
 *   `application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`
 * - kubectl get -o json|yaml, apply, delete… (cli-runtime resource.Builder): `application/json`
 * - kubectl logs, and any client-go REST client with ContentType JSON
 *   (client-go rest/request.go setAcceptHeader): `application/json, *\/*`
 * - discovery (client-go discovery/discovery_client.go):
 *   `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json`
 * - typed clientsets for built-in kinds, get/list/watch (rest/request.go
 *   UseProtobufAsDefault): `application/vnd.kubernetes.protobuf,application/json`
 * - metadata client (client-go metadata/metadata.go):
 *   `application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json`
 * - dynamic client (client-go dynamic/simple.go ConfigFor): `application/json`;
 *   with the client-go gate ClientsAllowCBOR (env KUBE_FEATURE_ClientsAllowCBOR=true):
 *   `application/json;q=0.9,application/cbor;q=1` (kubectl wait uses it too).
 * - with ClientsAllowCBOR and ClientsPreferCBOR, a REST client with no
 *   configured content type (CRD clients, kubectl's legacy discovery):
 *   `application/cbor, *\/*`.
 *
 * So no client 1.37 ships sends a CBOR-only Accept: both CBOR gates are alpha
 * and off by default (client-go features/known_features.go), and every
 * header they produce lists JSON or `*\/*` too. Only a program that sets
 * rest.Config.AcceptContentTypes to `application/cbor` itself does (as
 * Kubernetes' own integration tests do: kubernetes/kubernetes#128323).
 *
 * kube-apiserver serves CBOR only with its alpha CBORServingAndStorage gate
 * (apiserver pkg/features/kube_features.go): `application/cbor`, and
 * `application/cbor-seq` for a watch (pkg/endpoints/handlers/watch.go).
 * Tried against 1.37.2 with the gate on, it answers a watch asked as
 * `application/cbor` with `application/cbor-seq`, refuses `application/cbor-seq`
 * in Accept (406, watch or not) and refuses a CBOR Table (406). client-go
 * refuses a watch answered as `application/cbor` (rest/client.go).
 */

import { formatMediaRange, type MediaRange, parseAccept, parseMediaType } from "./media-type.ts";

export type Answer = "json" | "cbor";

export type Negotiated =
  | {
      /** Sent upstream instead of the client's Accept: JSON alternatives only. */
      upstreamAccept: string;
      /** Sent upstream instead of the client's Accept-Encoding. */
      upstreamAcceptEncoding: "identity";
      /** The form the client gets. */
      answer: Answer;
    }
  | { refuse: { reason: string } };

type Family = "json" | "cbor" | "any" | "protobuf" | "yaml" | "other";

function familyOf(range: MediaRange): Family {
  if (range.type === "*") return "any";
  if (range.type !== "application") return "other";
  switch (range.subtype) {
    case "*":
      return "any";
    case "json":
      return "json";
    // Not application/cbor-seq: kube-apiserver answers it 406, even for a
    // watch, and client-go never sends it.
    case "cbor":
      return "cbor";
    case "vnd.kubernetes.protobuf":
      return "protobuf";
    case "yaml":
      return "yaml";
    default:
      return "other";
  }
}

const jsonOnly: Negotiated = Object.freeze({
  upstreamAccept: "application/json",
  upstreamAcceptEncoding: "identity",
  answer: "json",
});

/**
 * JSON whenever the client accepts it at all (at any q, or through a
 * wildcard); CBOR only when it accepts CBOR and not JSON. A kube-apiserver
 * without CBORServingAndStorage (the 1.37 default) answers these clients in
 * JSON too, and JSON spares a re-encoding. The upstream Accept lists exactly
 * the client's alternatives in the answer's form, parameters (`as=Table`…)
 * and weights kept, the CBOR ones spelled as JSON.
 */
export function negotiate(accept: string | undefined): Negotiated {
  if (accept === undefined || accept.trim() === "") return jsonOnly;
  const acceptable = parseAccept(accept).filter((range) => range.q > 0);
  const json = acceptable.filter((range) => ["json", "any"].includes(familyOf(range)));
  if (json.length > 0) return served("json", json);
  const cbor = acceptable.filter((range) => familyOf(range) === "cbor");
  if (cbor.length > 0) return served("cbor", cbor);
  return { refuse: { reason: refusal(acceptable) } };
}

function served(answer: Answer, ranges: MediaRange[]): Negotiated {
  // One entry per distinct alternative, where it first appears, at its best weight.
  const alternatives = new Map<string, number>();
  for (const range of ranges) {
    const params = familyOf(range) === "any" ? [] : range.params;
    const key = formatMediaRange({ type: "application", subtype: "json", params });
    alternatives.set(key, Math.max(alternatives.get(key) ?? 0, range.q));
  }
  const upstreamAccept = [...alternatives]
    .map(([alternative, q]) => (q < 1 ? `${alternative};q=${q}` : alternative))
    .join(",");
  return { upstreamAccept, upstreamAcceptEncoding: "identity", answer };
}

/**
 * Why nothing can be answered, written to follow "responses to this call are
 * masked (…), " in the 406 Status.
 */
function refusal(acceptable: MediaRange[]): string {
  const asked = [...new Set(acceptable.map((range) => `${range.type}/${range.subtype}`))];
  const what =
    asked.length === 0
      ? "this request's Accept header accepts no media type"
      : `this client accepts only ${asked.join(", ")}`;
  return (
    `so the answer can only be JSON or CBOR, and ${what}; ` +
    "protobuf and YAML cannot be produced after masking. Ask for application/json " +
    "(kubectl's default; for client-go, set ContentType and AcceptContentTypes to " +
    '"application/json" in rest.Config)'
  );
}

/** What an upstream answer is to the masker. */
export type ReadableBody = "json" | "text" | "unreadable";

/**
 * Whether the masker can read what the API server sent: JSON objects and
 * watch streams (`application/json`, any parameters), plain text (pod logs),
 * and only uncompressed. Anything else, a missing Content-Type included, is
 * unreadable and must not be passed on.
 */
export function responseKind(
  contentType: string | undefined,
  contentEncoding: string | undefined,
): ReadableBody {
  const encoding = contentEncoding?.trim().toLowerCase() ?? "";
  if (encoding !== "" && encoding !== "identity") return "unreadable";
  const media = parseMediaType(contentType);
  if (media === null) return "unreadable";
  if (media.type === "application" && media.subtype === "json") return "json";
  if (media.type === "text" && media.subtype === "plain") {
    const charset = media.params.find(([name]) => name === "charset")?.[1].toLowerCase();
    if (charset === undefined || charset === "utf-8" || charset === "us-ascii") return "text";
  }
  return "unreadable";
}

/** Whether a JSON answer is a watch stream (`application/json;stream=watch`). */
export function isWatchStream(contentType: string | undefined): boolean {
  const media = parseMediaType(contentType);
  return media?.params.some(([name, value]) => name === "stream" && value === "watch") ?? false;
}

/**
 * The Content-Type of the answer to the client: the API server's own for
 * JSON; for CBOR, `application/cbor-seq` for a watch stream (what
 * kube-apiserver sends, and the only one client-go's watch accepts), else
 * `application/cbor`. A watch refused before it starts is a single Status.
 */
export function answerContentType(answer: Answer, upstreamContentType: string): string {
  if (answer === "json") return upstreamContentType;
  return isWatchStream(upstreamContentType) ? "application/cbor-seq" : "application/cbor";
}
