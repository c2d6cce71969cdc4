/**
 * The admin HTTP endpoint that every role starts (default `127.0.0.1:9090`):
 *
 * | path       | what                                                         |
 * |------------|--------------------------------------------------------------|
 * | `/healthz` | `200 ok` while the process serves                            |
 * | `/metrics` | Prometheus text format from the shared registry              |
 * | `/status`  | JSON: `{node, role, version, uptimeS, ...sections}`          |
 * | others     | routes a role registers (`director/...`, dashboard, members) |
 *
 * Access: clients in `admin.allow` (loopback by default) are admitted; anyone else needs
 * `Authorization: Bearer <admin.token>` (never `?token=`: the query string is not read), and without
 * a token configured they get 403. Management endpoints are never reachable by strangers by default.
 *
 * Before that, `request_guard.ts` protects the endpoint from browsers: a `Host` that is not this
 * endpoint (DNS rebinding) gets 421, and a state-changing request (any method but GET and HEAD)
 * needs the bearer token or `Content-Type: application/json`, so a cross-site form post gets 403.
 * Routes may mark themselves public (the dashboard's static page, which holds no data); the Host
 * check still applies to them.
 *
 * @module
 */
import { Acl, addrBytes, formatHostPort, LOOPBACK_NETS } from "../core/addr.ts";
import { listenError } from "../core/listen_error.ts";
import { getLogger } from "../core/log.ts";
import { registry, renderMetrics } from "../core/metrics.ts";
import { VERSION } from "../core/version.ts";
import { bearerToken, checkRequest } from "./request_guard.ts";

const log = getLogger("admin");

/** A route handler: gets the request and the client address, returns a response. */
export type AdminRoute = (req: Request, client: string) => Response | Promise<Response>;

/** Options of {@link AdminServer}. */
export interface AdminOptions {
  /** Address to listen on. */
  hostname: string;
  port: number;
  /** Networks admitted without a token. */
  allow: readonly string[];
  /** Bearer token for everyone else. */
  token?: string;
  /**
   * Names accepted in the `Host` field besides IP literals, `localhost` and this machine's name
   * (`admin.hosts`); others get 421 (DNS rebinding guard).
   */
  hosts?: readonly string[];
  /** Node name and role, reported in /status. */
  node: string;
  role: string;
  signal?: AbortSignal;
}

/** The admin endpoint: start with {@link AdminServer.start}, extend with routes and status sections. */
export class AdminServer {
  readonly #opts: AdminOptions;
  readonly #acl: Acl;
  readonly #routes = new Map<string, AdminRoute>();
  readonly #public = new Set<string>();
  readonly #hostNames: string[];
  /** This host's addresses (for a wildcard listen address), refreshed at most every 5 s. */
  #localIps = { at: -Infinity, ips: new Set<string>() };
  readonly #status = new Map<string, () => unknown | Promise<unknown>>();
  readonly #started = Date.now();
  #server?: Deno.HttpServer<Deno.NetAddr>;

  constructor(opts: AdminOptions) {
    this.#opts = opts;
    this.#acl = new Acl(opts.allow);
    this.#hostNames = [...(opts.hosts ?? [])];
    try {
      this.#hostNames.push(Deno.hostname());
    } catch { /* no permission: IP literals and localhost still work */ }
  }

  /**
   * Adds (or replaces) a route for an exact path such as `/director/status`.
   *
   * @param path the exact path
   * @param handler answers the request
   * @param opts `public`: GET and HEAD need no admission (static content without data; the Host
   *   check still applies)
   */
  route(path: string, handler: AdminRoute, opts: { public?: boolean } = {}): void {
    this.#routes.set(path, handler);
    if (opts.public) this.#public.add(path);
    else this.#public.delete(path);
  }

  /** Adds a section to `/status` computed on each request. */
  status(name: string, fn: () => unknown | Promise<unknown>): void {
    this.#status.set(name, fn);
  }

  /** The bound address once started. */
  get addr(): Deno.NetAddr {
    if (!this.#server) throw new Error("Cannot read address: admin server not started");
    return this.#server.addr;
  }

  /** The full `/status` document. */
  async statusDocument(): Promise<Record<string, unknown>> {
    const doc: Record<string, unknown> = {
      node: this.#opts.node,
      role: this.#opts.role,
      version: VERSION,
      uptimeS: Math.round((Date.now() - this.#started) / 1000),
    };
    for (const [name, fn] of this.#status) {
      try {
        doc[name] = await fn();
      } catch (e) {
        doc[name] = { error: (e as Error).message };
      }
    }
    return doc;
  }

  /**
   * Starts listening.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  start(): this {
    try {
      this.#server = this.#serve();
    } catch (e) {
      throw listenError(e, formatHostPort({ host: this.#opts.hostname, port: this.#opts.port }), "admin.listen");
    }
    log.info("Admin endpoint listening", { listen: `${this.addr.hostname}:${this.addr.port}` });
    return this;
  }

  #serve(): Deno.HttpServer<Deno.NetAddr> {
    return Deno.serve({
      hostname: this.#opts.hostname,
      port: this.#opts.port,
      signal: this.#opts.signal,
      onListen: () => {},
      onError: (e) => {
        log.error("Admin handler failed", { error: e });
        return new Response("internal error\n", { status: 500 });
      },
    }, (req, info) => this.#handle(req, info.remoteAddr.hostname));
  }

  /** Stops the server and waits for it to finish. */
  async stop(): Promise<void> {
    if (!this.#server) return;
    await this.#server.shutdown();
  }

  /** Whether an IP literal in `Host` is this endpoint: loopback, the listen address, or (listening on all) any of ours. */
  #ipAllowed = (ip: string): boolean => {
    if (LOOPBACK.allows(ip)) return true;
    const listen = this.#opts.hostname;
    if (listen !== "0.0.0.0" && listen !== "::") return sameIp(ip, listen);
    const now = Date.now();
    if (now - this.#localIps.at > 5000) {
      let ips: string[] = [];
      try {
        ips = Deno.networkInterfaces().map((i) => i.address);
      } catch { /* no permission: loopback and names only */ }
      this.#localIps = { at: now, ips: new Set(ips.map(normalIp)) };
    }
    return this.#localIps.ips.has(normalIp(ip));
  };

  /** Whether the request carries the configured token in `Authorization: Bearer` (never the query). */
  #bearerValid(req: Request): boolean {
    const token = this.#opts.token;
    const given = bearerToken(req.headers.get("authorization"));
    return token !== undefined && given !== undefined && timingSafeEqual(given, token);
  }

  async #handle(req: Request, client: string): Promise<Response> {
    const path = new URL(req.url).pathname;
    const bearerValid = this.#bearerValid(req);
    const refusal = checkRequest({
      method: req.method,
      headers: req.headers,
      hostNames: this.#hostNames,
      bearerValid,
      ipAllowed: this.#ipAllowed,
    });
    if (refusal) {
      log.debug("Refused admin request", { from: client, path, method: req.method, reason: refusal.reason });
      return new Response(`${refusal.reason}\n`, {
        status: refusal.status,
        headers: refusal.status === 405 ? { allow: "GET, HEAD, POST" } : {},
      });
    }
    const isPublic = this.#public.has(path) && (req.method === "GET" || req.method === "HEAD");
    if (!isPublic && !this.#acl.allows(client) && !bearerValid) {
      log.warn("Refused admin request", { from: client, path });
      return new Response("forbidden: admin endpoint is restricted to admin.allow or admin.token\n", {
        status: 403,
      });
    }
    switch (path) {
      case "/healthz":
        return new Response("ok\n", { headers: { "content-type": "text/plain" } });
      case "/metrics":
        return new Response(await renderMetrics(), { headers: { "content-type": registry.contentType } });
      case "/status":
        return Response.json(await this.statusDocument());
    }
    const route = this.#routes.get(path);
    if (route) return await route(req, client);
    return new Response("not found\n", { status: 404 });
  }
}

const LOOPBACK = new Acl(LOOPBACK_NETS);

/** An IP literal in one spelling (IPv6 lower-case and expanded through its bytes). */
function normalIp(ip: string): string {
  const b = addrBytes(ip);
  return b ? b.join(".") : ip.toLowerCase();
}

function sameIp(a: string, b: string): boolean {
  return normalIp(a) === normalIp(b);
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
