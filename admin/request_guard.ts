/**
 * Checks the admin endpoint applies to every request before access control, against attacks from a
 * browser on the operator's machine (the admin endpoint listens on loopback, which a browser can
 * reach):
 *
 * - **DNS rebinding**: a page on `evil.example` re-resolves its name to 127.0.0.1 and reads the
 *   answers as same-origin. Its requests carry `Host: evil.example`, so only these Host values are
 *   accepted: the admin listen address (any address of this host when it listens on all of them)
 *   and loopback addresses, `localhost` and `*.localhost`, this machine's host name, and the names
 *   in `admin.hosts`.
 * - **Cross-site requests** (CSRF): any page may make the browser send a "simple" POST (form
 *   encoded, multipart or text/plain, no custom fields) without asking. A state-changing request
 *   (any method but GET and HEAD) therefore needs `Authorization: Bearer <admin.token>` or
 *   `Content-Type: application/json`; both make a browser send a CORS preflight first, which this
 *   endpoint never approves (OPTIONS gets 405 without `Access-Control-Allow-*`). A request whose
 *   `Origin` is not the endpoint itself is refused as well.
 * - A token is only taken from the `Authorization` header, never from the query string (URLs end
 *   up in browser history, proxy and access logs).
 *
 * Pure functions: no sockets, clocks or logs.
 *
 * @module
 */
import { isIPv4, isIPv6 } from "../core/addr.ts";

/** Methods that change nothing (the only ones a browser's cross-site request may use unchecked). */
export const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD"]);

/** Why a request was refused: the HTTP status and a one-line reason. */
export interface GuardRefusal {
  /** 421 for a foreign Host, 403 for a cross-site request, 405 for a preflight. */
  status: 421 | 403 | 405;
  /** One line for the client. */
  reason: string;
}

/**
 * The host part of a `Host` field value (`name`, `name:port`, `[v6]:port`), lower-case, without a
 * trailing dot; undefined when it is malformed.
 *
 * @param host the field value
 * @returns the host name or IP literal
 */
export function hostOfHostField(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return undefined;
    return h.slice(1, end);
  }
  const m = /^([^:\s]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1].replace(/\.$/, "") : undefined;
}

/**
 * Whether a `Host` value names this endpoint: an IP address `ipAllowed` accepts, `localhost`,
 * `*.localhost`, or one of `names` (compared case-insensitively).
 *
 * @param host the `Host` field value
 * @param names other accepted names (this machine's name, `admin.hosts`)
 * @param ipAllowed which IP literals are this endpoint (default: any, since a rebinding needs a name)
 * @returns whether the request may proceed
 */
export function hostAllowed(
  host: string,
  names: readonly string[],
  ipAllowed: (ip: string) => boolean = () => true,
): boolean {
  const h = hostOfHostField(host);
  if (h === undefined || h === "") return false;
  if (isIPv4(h) || isIPv6(h)) return ipAllowed(h);
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  return names.some((n) => n.toLowerCase().replace(/\.$/, "") === h);
}

/**
 * The bearer token of an `Authorization` field, or undefined.
 *
 * @param authorization the field value (null when absent)
 */
export function bearerToken(authorization: string | null): string | undefined {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? "");
  return m ? m[1] : undefined;
}

/** Whether a `Content-Type` value is `application/json` (parameters allowed). */
export function isJsonContentType(contentType: string | null): boolean {
  return (contentType ?? "").split(";")[0].trim().toLowerCase() === "application/json";
}

/** What {@link checkRequest} looks at. */
export interface GuardInput {
  /** Request method. */
  method: string;
  /** Request fields. */
  headers: Headers;
  /** Names accepted in `Host` besides IP literals and localhost names. */
  hostNames: readonly string[];
  /** Whether the request carries the configured admin token in `Authorization: Bearer`. */
  bearerValid: boolean;
  /** Which IP literals in `Host` are this endpoint (default any). */
  ipAllowed?: (ip: string) => boolean;
}

/**
 * Checks one admin request against DNS rebinding and cross-site requests (see the module doc).
 *
 * @param input method, fields, accepted names and whether the bearer token matched
 * @returns undefined when the request may proceed, else why not
 * @example
 * ```ts
 * checkRequest({ method: "POST", headers: new Headers({ host: "127.0.0.1:9090" }), hostNames: [], bearerValid: false });
 * // { status: 403, reason: "..." }: a form post from any page would look the same
 * ```
 */
export function checkRequest(input: GuardInput): GuardRefusal | undefined {
  const { method, headers } = input;
  const host = headers.get("host");
  if (host !== null && !hostAllowed(host, input.hostNames, input.ipAllowed)) {
    return {
      status: 421,
      reason: `Host "${host.slice(0, 100)}" is not this admin endpoint (use its address, localhost, or add the ` +
        `name to admin.hosts)`,
    };
  }
  if (SAFE_METHODS.has(method)) return undefined;
  if (method === "OPTIONS") {
    return { status: 405, reason: "cross-origin requests to the admin endpoint are not allowed" };
  }
  const origin = headers.get("origin");
  if (origin !== null && (host === null || !sameOrigin(origin, host))) {
    return { status: 403, reason: `cross-site request from origin "${origin.slice(0, 100)}" refused` };
  }
  if (headers.get("sec-fetch-site") === "cross-site") {
    return { status: 403, reason: "cross-site request refused" };
  }
  if (!input.bearerValid && !isJsonContentType(headers.get("content-type"))) {
    return {
      status: 403,
      reason: `${method} needs Authorization: Bearer <admin.token> or Content-Type: application/json`,
    };
  }
  return undefined;
}

function sameOrigin(origin: string, host: string): boolean {
  try {
    const u = new URL(origin);
    return u.protocol === "http:" && u.host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}
