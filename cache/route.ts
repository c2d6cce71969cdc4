/**
 * Deciding where a request goes, per listener mode (a pure function):
 *
 * | mode | accepted targets | origin | access |
 * |---|---|---|---|
 * | accel | origin-form `/p?q` (absolute-form too, treated by its host) | `cache.origins[Host]`, else `cache.defaultOrigin` | anyone |
 * | forward | absolute-form `http://h[:p]/p`, `CONNECT h:p` | the URL's host | `cache.acl.forward` |
 * | transparent | origin-form redirected by a firewall | the `Host` header (port 80 default) | `cache.acl.forward` |
 *
 * The cache key URL is always absolute: `http://<host>[:port]<path>?<query>`.
 *
 * @module
 */
import type { Endpoint } from "../http/server.ts";

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

function splitHostPort(authority: string, defPort: number): Endpoint | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return undefined;
  const port = m[2] === undefined ? defPort : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const hostname = m[1].startsWith("[") ? m[1].slice(1, -1) : m[1];
  return { hostname, port };
}

/** An authority (Host field or URL authority) parsed: its endpoint and its text for URLs and keys. */
interface ParsedHost {
  ep: Endpoint;
  /** Lower-cased, without the default port 80. */
  hostText: string;
}

/** Parsed authorities: a cache sees few distinct hosts, and every request parses one. */
const HOSTS = new Map<string, ParsedHost | null>();

function hostOf(authority: string): ParsedHost | null {
  let h = HOSTS.get(authority);
  if (h !== undefined) return h;
  const lower = authority.toLowerCase();
  const ep = splitHostPort(lower, 80);
  h = ep ? { ep: Object.freeze(ep), hostText: lower.replace(/:80$/, "") } : null;
  if (authority.length <= 512) {
    if (HOSTS.size >= 1024) HOSTS.clear();
    HOSTS.set(authority, h);
  }
  return h;
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
    const ep = splitHostPort(req.target, -1);
    if (!ep || ep.port === -1) return { kind: "error", status: 400, message: `Bad CONNECT target "${req.target}"` };
    return { kind: "connect", target: ep };
  }
  let authority: string;
  let path: string;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(req.target)) {
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(req.target)!;
    if (m[1].toLowerCase() !== "http") {
      return { kind: "error", status: 501, message: `Scheme "${m[1]}" is not supported; use CONNECT for https` };
    }
    authority = m[2];
    path = m[3] || "/";
    if (!path.startsWith("/")) path = "/" + path;
    if (authority.includes("@")) return { kind: "error", status: 400, message: "User info in URLs is not allowed" };
  } else if (req.target.startsWith("/")) {
    if (mode === "forward") {
      return { kind: "error", status: 400, message: "A forward proxy needs an absolute URL (http://host/path)" };
    }
    if (req.host === null || req.host === "") return { kind: "error", status: 400, message: "Missing Host header" };
    authority = req.host;
    path = req.target;
  } else if (req.target === "*" && req.method === "OPTIONS") {
    return { kind: "error", status: 501, message: "OPTIONS * is not supported" };
  } else {
    return { kind: "error", status: 400, message: `Bad request target "${req.target.slice(0, 100)}"` };
  }
  const host = hostOf(authority);
  if (!host) return { kind: "error", status: 400, message: `Bad host "${authority.slice(0, 100)}"` };
  const { ep, hostText } = host;
  const url = `http://${hostText}${path}`;
  if (mode === "accel") {
    const bare = ep.hostname;
    const origin = cfg.origins[hostText] ?? cfg.origins[bare] ?? cfg.defaultOrigin;
    if (!origin) return { kind: "error", status: 503, message: `No origin configured for host "${hostText}"` };
    return { kind: "http", url, origin: endpointOf(origin), host: req.host ?? hostText, path };
  }
  if (!cfg.forwardAllowed) {
    return { kind: "error", status: 403, message: "Forward proxying is not allowed from this client" };
  }
  return { kind: "http", url, origin: ep, host: hostText, path };
}
