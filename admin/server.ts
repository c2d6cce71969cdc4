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
 * `Authorization: Bearer <admin.token>`, and without a token configured they get 403. Management
 * endpoints are never reachable by strangers by default.
 *
 * @module
 */
import { Acl } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import { registry, renderMetrics } from "../core/metrics.ts";
import { VERSION } from "../core/version.ts";

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
  readonly #status = new Map<string, () => unknown | Promise<unknown>>();
  readonly #started = Date.now();
  #server?: Deno.HttpServer<Deno.NetAddr>;

  constructor(opts: AdminOptions) {
    this.#opts = opts;
    this.#acl = new Acl(opts.allow);
  }

  /** Adds (or replaces) a route for an exact path such as `/director/status`. */
  route(path: string, handler: AdminRoute): void {
    this.#routes.set(path, handler);
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
    this.#server = Deno.serve({
      hostname: this.#opts.hostname,
      port: this.#opts.port,
      signal: this.#opts.signal,
      onListen: () => {},
      onError: (e) => {
        log.error("Admin handler failed", { error: e });
        return new Response("internal error\n", { status: 500 });
      },
    }, (req, info) => this.#handle(req, info.remoteAddr.hostname));
    log.info("Admin endpoint listening", { listen: `${this.addr.hostname}:${this.addr.port}` });
    return this;
  }

  /** Stops the server and waits for it to finish. */
  async stop(): Promise<void> {
    if (!this.#server) return;
    await this.#server.shutdown();
  }

  #admitted(req: Request, client: string): boolean {
    if (this.#acl.allows(client)) return true;
    const token = this.#opts.token;
    if (!token) return false;
    const auth = req.headers.get("authorization") ?? "";
    const url = new URL(req.url);
    const given = auth.startsWith("Bearer ") ? auth.slice(7) : url.searchParams.get("token") ?? "";
    return timingSafeEqual(given, token);
  }

  async #handle(req: Request, client: string): Promise<Response> {
    if (!this.#admitted(req, client)) {
      log.warn("Refused admin request", { from: client, path: new URL(req.url).pathname });
      return new Response("forbidden: admin endpoint is restricted to admin.allow or admin.token\n", {
        status: 403,
      });
    }
    const path = new URL(req.url).pathname;
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

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
