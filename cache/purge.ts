/**
 * PURGE (Squid's method, allowed by `cache.acl.purge`) and the invalidation behind it, also used
 * after unsafe methods and by a 304 that changes Vary: a key goes from every worker's store and
 * from the shared index, and no copy between workers may start or land meanwhile.
 *
 * With a cluster, the purge then goes to every other cache as a ban (`purge_fanout.ts`);
 * `X-Purge-Type: prefix` or `regex` (with `X-Purge-Regex`) bans many URLs (`purge_request.ts`).
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
import type { Ban } from "../cluster/ban_codec.ts";
import { newBan, type PurgeResult, purgeSpec } from "./purge_request.ts";

/** Sends a ban issued here to every cache of the cluster (`localDeleted`: objects already deleted here). */
export type ClusterPurge = (ban: Ban, localDeleted: number) => Promise<PurgeResult>;

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
 * everywhere, sends the ban to the cluster (`opts.cluster`) and answers 200 (some went, or a
 * prefix/regex ban) or 404, with `X-Purge-Acks: ACKED/NODES`.
 *
 * @param ctx invalidation, origins, node name
 * @param ex the request
 * @param opts the listener's mode, the purge ACL and the cluster-wide purge
 */
export async function purge(
  ctx: CacheContext,
  ex: Exchange,
  opts: { mode: ListenerMode; acl: Acl; cluster?: ClusterPurge },
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
  const route = resolveRoute(
    { method: "GET", target: req.target, host: req.headers.get("host"), tls: req.tls },
    opts.mode,
    {
      origins: ctx.config.origins,
      defaultOrigin: ctx.config.defaultOrigin ?? "http://127.0.0.1:80",
      schemeInKey: ctx.config.schemeInKey,
      forwardAllowed: true,
    },
  );
  if (route.kind !== "http") {
    out.status = 400;
    return await sendError(ctx, ex, { status: 400, message: "Bad PURGE target" });
  }
  const key = cacheKey(route.key);
  out.url = key;
  const type = req.headers.get("x-purge-type") ?? "url";
  const spec = purgeSpec(type, type.trim().toLowerCase() === "regex" ? req.headers.get("x-purge-regex") ?? "" : key);
  if ("error" in spec) {
    out.status = 400;
    return await sendError(ctx, ex, { status: 400, message: spec.error });
  }
  let n = spec.kind === "url" ? await ctx.invalidate([key]) : 0;
  const cluster = opts.cluster ? await opts.cluster(newBan(spec, ctx.node), n) : undefined;
  if (cluster) n = cluster.deleted;
  out.result = "purge";
  out.code = "TCP_MISS";
  out.status = n > 0 || spec.kind !== "url" ? 200 : 404;
  const what = spec.kind === "url" ? (n > 0 ? `Purged ${n} object(s)` : "Not in cache") : `Banned ${spec.kind}`;
  return await sendError(ctx, ex, {
    status: out.status,
    message: cluster?.nodes ? `${what}; ${cluster.acked} of ${cluster.nodes} other cache(s) acknowledged` : what,
    extra: cluster ? [["x-purge-acks", `${cluster.acked}/${cluster.nodes}`]] : [],
  });
}
