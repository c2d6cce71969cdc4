/**
 * PURGE (Squid's method, allowed by `cache.acl.purge`) and the invalidation behind it, also used
 * after unsafe methods and by a 304 that changes Vary: a key goes from every worker's store and
 * from the shared index, and no copy between workers may start or land meanwhile.
 *
 * @module
 */
import type { Acl } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import { sendError } from "./client_reply.ts";
import type { CacheContext, Exchange, Invalidator } from "./exchange.ts";
import type { LazyCopy } from "./lazy_copy.ts";
import { type ListenerMode, resolveRoute } from "./route.ts";
import { cacheKey } from "./semantics/mod.ts";
import type { Store } from "./store/store.ts";

const log = getLogger("cache");

/**
 * An invalidator that deletes keys everywhere: through `opts.invalidate` (every worker) when
 * given, else from `opts.store` (and the lazy copies' bookkeeping), fencing the shared index.
 *
 * @param opts the local store, the cross-worker invalidator, the lazy copier
 * @returns the invalidator; it resolves to how many objects went
 */
export function invalidatorFor(opts: { store: Store; invalidate?: Invalidator; lazyCopy?: LazyCopy }): Invalidator {
  return async (keys) => {
    const index = opts.lazyCopy?.index;
    // No copy between workers may start, or land, while the keys are deleted everywhere.
    index?.beginInvalidation(keys);
    try {
      if (opts.invalidate) return await opts.invalidate(keys);
      opts.lazyCopy?.forget(keys);
      let n = 0;
      for (const k of keys) n += await opts.store.delete(k);
      return n;
    } finally {
      index?.endInvalidation(keys);
    }
  };
}

/**
 * Answers a PURGE: 403 unless the client is in the purge ACL, else deletes the URL's objects
 * everywhere and answers 200 (some went) or 404.
 *
 * @param ctx invalidation, origins, node name
 * @param ex the request
 * @param opts the listener's mode and the purge ACL
 */
export async function purge(
  ctx: CacheContext,
  ex: Exchange,
  opts: { mode: ListenerMode; acl: Acl },
): Promise<void> {
  const { req, out } = ex;
  out.url = req.target;
  if (!opts.acl.allows(req.client.hostname)) {
    out.code = "TCP_DENIED";
    out.result = "denied";
    out.status = 403;
    log.info("Denied PURGE", { from: req.client.hostname, url: req.target.slice(0, 200) });
    return await sendError(ctx, ex, { status: 403, message: "PURGE is not allowed from this client" });
  }
  const route = resolveRoute({ method: "GET", target: req.target, host: req.headers.get("host") }, opts.mode, {
    origins: ctx.config.origins,
    defaultOrigin: ctx.config.defaultOrigin ?? "http://127.0.0.1:80",
    forwardAllowed: true,
  });
  if (route.kind !== "http") {
    out.status = 400;
    return await sendError(ctx, ex, { status: 400, message: "Bad PURGE target" });
  }
  const key = cacheKey(route.url);
  out.url = key;
  const n = await ctx.invalidate([key]);
  out.result = "purge";
  out.code = "TCP_MISS";
  out.status = n > 0 ? 200 : 404;
  return await sendError(ctx, ex, { status: out.status, message: n > 0 ? `Purged ${n} object(s)` : "Not in cache" });
}
