/**
 * Deciding where a request goes, per listener mode (a pure function):
 *
 * | mode | accepted targets | origin | access |
 * |---|---|---|---|
 * | accel | origin-form `/p?q` (absolute-form too, treated by its host) | `cache.origins[Host]`, else `cache.defaultOrigin` | anyone |
 * | forward | absolute-form `http://h[:p]/p`, `CONNECT h:p` | the URL's host | `cache.acl.forward` |
 * | transparent | origin-form redirected by a firewall | the `Host` header (port 80 default) | `cache.acl.forward` |
 *
 * The cache key URL is always absolute: `http://<host>[:port]<path>?<query>`, and it is made from
 * the same normalised URL (`semantics/normalize_url.ts`) as the origin-form target and the `Host`
 * sent to the origin, so what the origin was asked is exactly what its answer is stored under. An
 * absolute-form target's authority wins over the Host field (RFC 9112 §3.2.2) in every mode.
 * Targets that cannot be normalised safely get 400.
 *
 * @module
 */
import type { Endpoint } from "../http/server.ts";
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
    /** Absolute URL (cache key before normalisation). */
    url: string;
    /** Origin to connect to. */
    origin: Endpoint;
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
 * The cache key (and origin-form target) of an origin-form request: `http://<Host>` plus the
 * target, both normalised (`normalize_url.ts`). The fast hit path and {@link resolveRoute} use
 * it alike, so they always agree.
 *
 * @param host the Host field
 * @param target an origin-form target
 * @returns the normalised authority and target, or null when either cannot be normalised
 */
export function originFormUrl(
  host: string,
  target: string,
): { auth: NormalAuthority; pathQuery: string; url: string } | null {
  const auth = normalizeAuthority(host, 80);
  if (!auth) return null;
  const pathQuery = normalizePathQuery(target);
  if (pathQuery === null) return null;
  return { auth, pathQuery, url: `http://${auth.host}${pathQuery}` };
}

/** Parsed origin URLs: there are only the configured few, and every request needs one. */
const ENDPOINTS = new Map<string, Endpoint>();

function endpointOf(originUrl: string): Endpoint {
  let ep = ENDPOINTS.get(originUrl);
  if (ep) return ep;
  const u = new URL(originUrl);
  ep = Object.freeze({ hostname: u.hostname.replace(/^\[|\]$/g, ""), port: u.port ? Number(u.port) : 80 });
  if (ENDPOINTS.size >= 1024) ENDPOINTS.clear();
  ENDPOINTS.set(originUrl, ep);
  return ep;
}

/**
 * Resolves the route of a request.
 *
 * @param req method, request target and Host header
 * @param mode the listener's mode
 * @param cfg origins
 * @param access the client's permissions
 * @returns an http route, a CONNECT tunnel, or an error to answer with
 */
export function resolveRoute(
  req: { method: string; target: string; host: string | null },
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
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(req.target)) {
    // Absolute form: its authority wins over Host (RFC 9112 §3.2.2) for routing, the key and the
    // Host sent to the origin alike.
    const scheme = req.target.slice(0, req.target.indexOf(":"));
    if (scheme.toLowerCase() !== "http") {
      return { kind: "error", status: 501, message: `Scheme "${scheme}" is not supported; use CONNECT for https` };
    }
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
    const o = originFormUrl(req.host, req.target);
    if (!o) return { kind: "error", status: 400, message: `Bad host or target "${req.target.slice(0, 100)}"` };
    auth = o.auth;
    path = o.pathQuery;
  } else if (req.target === "*" && req.method === "OPTIONS") {
    return { kind: "error", status: 501, message: "OPTIONS * is not supported" };
  } else {
    return { kind: "error", status: 400, message: `Bad request target "${req.target.slice(0, 100)}"` };
  }
  const hostText = auth.host;
  const ep: Endpoint = { hostname: auth.hostname, port: auth.port };
  const url = `http://${hostText}${path}`;
  if (mode === "accel") {
    const bare = ep.hostname;
    const origin = cfg.origins[hostText] ?? cfg.origins[bare] ?? cfg.defaultOrigin;
    if (!origin) return { kind: "error", status: 503, message: `No origin configured for host "${hostText}"` };
    return { kind: "http", url, origin: endpointOf(origin), host: hostText, path };
  }
  if (!cfg.forwardAllowed) {
    return { kind: "error", status: 403, message: "Forward proxying is not allowed from this client" };
  }
  return { kind: "http", url, origin: ep, host: hostText, path };
}
