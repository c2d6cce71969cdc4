/**
 * Deciding where a request goes, per listener mode (a pure function):
 *
 * | mode | accepted targets | origin | access |
 * |---|---|---|---|
 * | accel | origin-form `/p?q` (absolute-form too, treated by its host) | `cache.origins[Host]`, else `cache.defaultOrigin` | anyone |
 * | forward | absolute-form `http[s]://h[:p]/p`, `CONNECT h:p` | the URL's host, over TLS for `https` | `cache.acl.forward` |
 * | transparent | origin-form redirected by a firewall | the `Host` header (port 80 default, 443 on TLS) | `cache.acl.forward` |
 *
 * The request's scheme is the absolute-form URL's, else `https` when it came over a TLS listener
 * and `http` otherwise. An accelerated request goes to its origin URL's scheme (an `https://`
 * origin is fetched over TLS whatever the client used).
 *
 * The cache key URL is always absolute: `<scheme>://<host>[:port]<path>?<query>` (`https://site/x`
 * and `http://site/x` are different entries unless `schemeInKey` is false, which keys both as
 * `http://`), and it is made from
 * the same normalised URL (`semantics/normalize_url.ts`) as the origin-form target and the `Host`
 * sent to the origin, so what the origin was asked is exactly what its answer is stored under. An
 * absolute-form target's authority wins over the Host field (RFC 9112 §3.2.2) in every mode.
 * Targets that cannot be normalised safely get 400.
 *
 * @module
 */
import type { Endpoint } from "../http/server.ts";
import type { OriginEndpoint } from "../http/origin_client.ts";
import {
  type NormalAuthority,
  normalizeAuthority,
  normalizePathQuery,
  normalizeUrl,
} from "./semantics/normalize_url.ts";

/** A listener mode. */
export type ListenerMode = "accel" | "forward" | "transparent";

/** Where a request goes. */
export type Route =
  | {
    kind: "http";
    /** Absolute URL with the request's scheme, normalised (for peers, refresh patterns, logs). */
    url: string;
    /** The cache key URL: `url`, with `http://` for `https://` when the scheme is not in the key. */
    key: string;
    /** Origin to connect to; `tls` for an `https://` origin. */
    origin: OriginEndpoint;
    /** Host header to send. */
    host: string;
    /** Origin-form target to send. */
    path: string;
  }
  | { kind: "connect"; target: Endpoint }
  | { kind: "error"; status: number; message: string };

/** Configuration {@link resolveRoute} needs. */
export interface RouteConfig {
  /** Accelerator sites: Host → origin URL. */
  origins: Record<string, string>;
  /** Origin for other hosts. */
  defaultOrigin?: string;
  /** Whether `https://` and `http://` URLs are different cache entries; default true. */
  schemeInKey?: boolean;
}

/** Access checks {@link resolveRoute} needs. */
export interface RouteAccess {
  /** Whether the client may use forward/transparent proxying. */
  forwardAllowed: boolean;
}

function splitHostPort(authority: string): Endpoint | undefined {
  const a = /:\d{1,5}$/.test(authority) ? normalizeAuthority(authority, -1) : null;
  return a ? { hostname: a.hostname, port: a.port } : undefined;
}

/**
 * The absolute URL (and origin-form target) of an origin-form request: `<scheme>://<Host>` plus
 * the target, both normalised (`normalize_url.ts`). The fast hit path and {@link resolveRoute}
 * use it alike, so they always agree.
 *
 * @param host the Host field
 * @param target an origin-form target
 * @param scheme `https` for a request that came over TLS (default port 443), else `http`
 * @returns the normalised authority and target, or null when either cannot be normalised
 */
export function originFormUrl(
  host: string,
  target: string,
  scheme: "http" | "https" = "http",
): OriginFormUrl | null {
  const last = lastOriginForm;
  if (last.target === target && last.host === host && last.scheme === scheme) return last.result;
  const auth = normalizeAuthority(host, scheme === "https" ? 443 : 80);
  const pathQuery = auth ? normalizePathQuery(target) : null;
  const result = auth && pathQuery !== null ? { auth, pathQuery, url: `${scheme}://${auth.host}${pathQuery}` } : null;
  lastOriginForm = { host, target, scheme, result };
  return result;
}

/** What {@link originFormUrl} returns: shared between calls, never modified. */
export type OriginFormUrl = { readonly auth: NormalAuthority; readonly pathQuery: string; readonly url: string };

/**
 * The last answer of {@link originFormUrl}: a request off the fast path (every miss) asks twice in
 * a row, once in the fast hit lookup and once in {@link resolveRoute}, with nothing in between, so
 * one entry saves the second normalisation without a table that could grow.
 */
let lastOriginForm: { host: string; target: string; scheme: string; result: OriginFormUrl | null } = {
  host: "",
  target: "",
  scheme: "",
  result: null,
};

/**
 * The cache key of a normalised absolute URL.
 *
 * @param url `http://…` or `https://…`
 * @param schemeInKey false to key `https://` URLs as `http://` (one entry for both schemes)
 * @returns the key URL
 * @example
 * ```ts
 * keyUrl("https://site/x", false); // "http://site/x"
 * ```
 */
export function keyUrl(url: string, schemeInKey: boolean): string {
  return !schemeInKey && url.startsWith("https://") ? `http://${url.slice(8)}` : url;
}

/** Parsed origin URLs: there are only the configured few, and every request needs one. */
const ENDPOINTS = new Map<string, OriginEndpoint>();

function endpointOf(originUrl: string): OriginEndpoint {
  let ep = ENDPOINTS.get(originUrl);
  if (ep) return ep;
  const u = new URL(originUrl);
  const tls = u.protocol === "https:";
  const hostname = u.hostname.replace(/^\[|\]$/g, "");
  ep = Object.freeze({ hostname, port: u.port ? Number(u.port) : tls ? 443 : 80, ...(tls ? { tls } : {}) });
  if (ENDPOINTS.size >= 1024) ENDPOINTS.clear();
  ENDPOINTS.set(originUrl, ep);
  return ep;
}

/**
 * Resolves the route of a request.
 *
 * @param req method, request target, Host header, and whether it came over TLS
 * @param mode the listener's mode
 * @param cfg origins
 * @param access the client's permissions
 * @returns an http route, a CONNECT tunnel, or an error to answer with
 */
export function resolveRoute(
  req: { method: string; target: string; host: string | null; tls?: boolean },
  mode: ListenerMode,
  cfg: RouteConfig & RouteAccess,
): Route {
  if (req.method === "CONNECT") {
    if (mode !== "forward") {
      return { kind: "error", status: 405, message: "CONNECT is only allowed on forward listeners" };
    }
    if (!cfg.forwardAllowed) {
      return { kind: "error", status: 403, message: "Forward proxying is not allowed from this client" };
    }
    const ep = splitHostPort(req.target);
    if (!ep) return { kind: "error", status: 400, message: `Bad CONNECT target "${req.target}"` };
    return { kind: "connect", target: ep };
  }
  let auth: NormalAuthority;
  let path: string;
  let scheme: "http" | "https" = req.tls ? "https" : "http";
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(req.target)) {
    // Absolute form: its authority wins over Host (RFC 9112 §3.2.2) for routing, the key and the
    // Host sent to the origin alike.
    const given = req.target.slice(0, req.target.indexOf(":")).toLowerCase();
    if (given !== "http" && given !== "https") {
      return { kind: "error", status: 501, message: `Scheme "${given.slice(0, 20)}" is not supported` };
    }
    scheme = given;
    if (/^[^:]*:\/\/[^/?#\\]*@/.test(req.target)) {
      return { kind: "error", status: 400, message: "User info in URLs is not allowed" };
    }
    const u = normalizeUrl(req.target);
    if (!u) return { kind: "error", status: 400, message: `Bad request target "${req.target.slice(0, 100)}"` };
    auth = u;
    path = u.pathQuery;
  } else if (req.target.startsWith("/")) {
    if (mode === "forward") {
      return { kind: "error", status: 400, message: "A forward proxy needs an absolute URL (http://host/path)" };
    }
    if (req.host === null || req.host === "") return { kind: "error", status: 400, message: "Missing Host header" };
    const o = originFormUrl(req.host, req.target, scheme);
    if (!o) return { kind: "error", status: 400, message: `Bad host or target "${req.target.slice(0, 100)}"` };
    auth = o.auth;
    path = o.pathQuery;
  } else if (req.target === "*" && req.method === "OPTIONS") {
    return { kind: "error", status: 501, message: "OPTIONS * is not supported" };
  } else {
    return { kind: "error", status: 400, message: `Bad request target "${req.target.slice(0, 100)}"` };
  }
  const hostText = auth.host;
  const ep: OriginEndpoint = scheme === "https"
    ? { hostname: auth.hostname, port: auth.port, tls: true }
    : { hostname: auth.hostname, port: auth.port };
  const url = `${scheme}://${hostText}${path}`;
  const key = keyUrl(url, cfg.schemeInKey ?? true);
  if (mode === "accel") {
    const bare = ep.hostname;
    const origin = cfg.origins[hostText] ?? cfg.origins[bare] ?? cfg.defaultOrigin;
    if (!origin) return { kind: "error", status: 503, message: `No origin configured for host "${hostText}"` };
    return { kind: "http", url, key, origin: endpointOf(origin), host: hostText, path };
  }
  if (!cfg.forwardAllowed) {
    return { kind: "error", status: 403, message: "Forward proxying is not allowed from this client" };
  }
  return { kind: "http", url, key, origin: ep, host: hostText, path };
}
