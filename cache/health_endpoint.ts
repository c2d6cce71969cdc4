/**
 * The cache's own health, answered on every serving listener (accelerator, forward, transparent)
 * at {@link CACHE_HEALTH_PATH}, before routing: no origin is asked, nothing is stored or logged in
 * `access.log`. Directors probe it (the default HTTP check of a `fromMembership` service), so an
 * origin outage does not take the caches out of service while they can serve stale copies.
 *
 * | state | status | body |
 * |---|---|---|
 * | can serve | 200 | `{"status":"ok"}` |
 * | draining (SIGTERM, before exit) | 503 | `{"status":"draining"}` |
 * | a cache directory is gone (unmounted, deleted) | 503 | `{"status":"store","reason":"..."}` |
 *
 * Only GET and HEAD; other methods get 405. Every answer carries `Cache-Control: no-store`.
 *
 * @module
 */
import { CACHE_HEALTH_PATH } from "../config/health_schema.ts";
import { latin1Encode, serializeResponseHead } from "../http/head_codec.ts";
import type { ServerRequest, ServerResponse } from "../http/server.ts";

export { CACHE_HEALTH_PATH };

/** How long a store check result is reused (ms): directors probe every few seconds per service. */
const STORE_CHECK_MS = 1000;

/**
 * Whether a request target is the health endpoint (origin-form, query ignored). An absolute-form
 * target is a forward-proxy request for another site and is never answered here.
 *
 * @param target the request target as sent
 */
export function isHealthTarget(target: string): boolean {
  if (!target.startsWith(CACHE_HEALTH_PATH)) return false;
  const rest = target.length - CACHE_HEALTH_PATH.length;
  return rest === 0 || target[CACHE_HEALTH_PATH.length] === "?";
}

/** Whether the cache directories a store uses are still there. */
export type StoreCheck = () => string | undefined;

/**
 * A store check over cache directory paths: each must still be a directory.
 *
 * @param paths the cache directories (none for a memory-only cache)
 * @returns the reason of the first failure, or undefined when all are there
 */
export function dirsCheck(paths: readonly string[]): StoreCheck {
  return () => {
    for (const p of paths) {
      try {
        if (!Deno.statSync(p).isDirectory) return `cache directory ${p} is not a directory`;
      } catch (e) {
        return `cache directory ${p}: ${(e as Error).name}`;
      }
    }
    return undefined;
  };
}

/** The health state of one worker and its answer. */
export class CacheHealth {
  #draining = false;
  readonly #store: StoreCheck;
  #checkedAt = -Infinity;
  #storeProblem: string | undefined;
  #probedAt = -Infinity;

  /**
   * @param store tells why the store cannot serve, if it cannot
   */
  constructor(store: StoreCheck = () => undefined) {
    this.#store = store;
  }

  /** Whether the cache drains (answers 503 from now on). */
  get draining(): boolean {
    return this.#draining;
  }

  /** When the endpoint last answered a GET or HEAD (ms since epoch; -Infinity when never): a director watches. */
  get probedAt(): number {
    return this.#probedAt;
  }

  /** Marks the cache as draining: the endpoint answers 503 so directors stop sending. */
  drain(): void {
    this.#draining = true;
  }

  /**
   * The current state.
   *
   * @param now ms since epoch
   * @returns `ok`, `draining` or `store` with its reason
   */
  state(now = Date.now()): { status: "ok" | "draining" | "store"; reason?: string } {
    if (this.#draining) return { status: "draining" };
    if (now - this.#checkedAt >= STORE_CHECK_MS) {
      this.#checkedAt = now;
      this.#storeProblem = this.#store();
    }
    return this.#storeProblem ? { status: "store", reason: this.#storeProblem } : { status: "ok" };
  }

  /**
   * Answers one request for {@link CACHE_HEALTH_PATH}.
   *
   * @param req the request (GET or HEAD; anything else gets 405)
   * @param res where to write
   */
  async answer(req: ServerRequest, res: ServerResponse): Promise<void> {
    let status: number;
    let body: string;
    const extra: [string, string][] = [];
    if (req.method !== "GET" && req.method !== "HEAD") {
      status = 405;
      body = `{"status":"method not allowed"}`;
      extra.push(["allow", "GET, HEAD"]);
    } else {
      this.#probedAt = Date.now();
      const st = this.state();
      status = st.status === "ok" ? 200 : 503;
      body = JSON.stringify(st);
    }
    const bytes = new TextEncoder().encode(body + "\n");
    const head = serializeResponseHead(status, [
      ["content-type", "application/json"],
      ["content-length", String(bytes.length)],
      ["cache-control", "no-store"],
      ...extra,
      ["connection", res.close ? "close" : "keep-alive"],
    ]);
    await res.write(latin1Encode(head));
    if (req.method !== "HEAD") await res.write(bytes);
  }
}
