/**
 * `RequestFsm`: the state machine of a cacheable request (GET/HEAD) on the slow path, after
 * Varnish's vcl states and Squid's client side:
 *
 * ```
 * lookup ──┬─ fresh ─────── HIT (304/412/206/416/HEAD from the stored object)
 *          ├─ max-stale ─── STALE
 *          ├─ swr ───────── STALE + background revalidation
 *          ├─ stale ─────── revalidate (conditional, collapsed) ─┬─ 304 → REVALIDATED
 *          │                                                    ├─ 304 not selecting it (§4.3.4) or changing Vary
 *          │                                                    │    → unconditional refetch → MISS (replaced)
 *          │                                                    ├─ 200 → MISS (replaced)
 *          │                                                    └─ error (none; 500/502/503/504, not 501) → STALE
 *          │                                                       if stale-if-error (or cache.staleIfErrorS) allows,
 *          │                                                       else relayed / 502/504; never STALE for
 *          │                                                       must-revalidate/proxy-revalidate (none → 504)
 *          ├─ held by another worker → copy it here, lookup again
 *          ├─ Range inside a stored part → HIT 206 from the part (partial_content.ts)
 *          ├─ not stored + only-if-cached → 504
 *          ├─ Range, not stored → forward; a single-range 206 is relayed and kept as a part,
 *          │                      parts combined into a stored 200 when complete (partial_content.ts)
 *          ├─ no Range, a stored part lacking one run → ask for that run (If-Range), combine, serve
 *          └─ miss ──────── fetch (collapsed: one origin request per URL; others wait ≤ collapse.waitMs)
 *                           stream to every waiting client while storing
 * ```
 *
 * The fetches themselves (peer or origin, leadership, storing) are the {@link FetchStage}'s.
 *
 * @module
 */
import type { ServerRequest } from "../http/server.ts";
import { sendError, sendOriginError } from "./client_reply.ts";
import { type CacheContext, type Exchange, freshOpts, staleIfErrorOpts } from "./exchange.ts";
import { type FetchPlan, forwardHeaders } from "./fetch_plan.ts";
import type { Inflight, InflightHead } from "./inflight.ts";
import { interimRelay } from "./interim.ts";
import { counters } from "./metrics.ts";
import { completePartial, rangeMiss, servePartial } from "./partial_content.ts";
import { pass } from "./pass.ts";
import { serveInflight } from "./serve_inflight.ts";
import { serveStored } from "./serve_stored.ts";
import {
  conditionalHeadersFor,
  evaluateFreshness,
  getHeader,
  parseCacheControl,
  staleIfErrorAllowed,
  staleProhibited,
  varyKey,
  varyMatches,
} from "./semantics/mod.ts";
import type { StoredMeta, StoredObject, VariantsOpts } from "./store/store.ts";
import { hitCode } from "./log_codes.ts";

/** The look after a claim ignores a tier's short "absent" memo (see `VariantsOpts`). */
const RECHECK: VariantsOpts = { recheck: true };
/** Origin statuses that count as errors for `stale-if-error` (RFC 5861 §4): not 501 Not Implemented. */
const STALE_IF_ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504]);

/** Whether a collapsed fetch's head can answer this request (same variant, shareable). */
function sharesHead(head: InflightHead | undefined, req: ServerRequest): boolean {
  return !!head && head.kind === "response" && head.shareable && head.vary !== "*" &&
    varyKey(head.vary, req.headers) === head.variant;
}

/** The request state machine; see the module doc. */
export class RequestFsm {
  readonly #ctx: CacheContext;
  readonly #background = new Set<Promise<void>>();
  /**
   * Keys this worker claimed and is looking up once more before fetching, where that look yields
   * (a disk tier, a lazy copy): this worker's other requests for the key wait for it instead of
   * fetching too (their claim check would let them through: the claim is this worker's). Settled
   * once the object turned up, or once the fetch started, which they then join.
   */
  readonly #relooking = new Map<string, Promise<void>>();

  /**
   * Creates the state machine.
   *
   * @param ctx store, settings, fetch stage
   */
  constructor(ctx: CacheContext) {
    this.#ctx = ctx;
  }

  /** Waits for background revalidations (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#background.size) await Promise.allSettled([...this.#background]);
  }

  /**
   * Looks the request up and serves it: from the store, by revalidating, or by fetching.
   *
   * @param ex a GET or HEAD request
   * @param plan its fetch plan (headers not yet set)
   */
  async lookup(ex: Exchange, plan: FetchPlan): Promise<void> {
    const { req, out } = ex;
    const ctx = this.#ctx;
    // After waiting for another request's fetch, the tiers look for real (not their "absent" memo).
    const found = this.#find(req, plan.primary, plan.waitedElsewhere ? RECHECK : undefined);
    const obj = found instanceof Promise ? await found : found;
    if (obj) {
      const d = evaluateFreshness(req.headers, obj.meta, Date.now(), freshOpts(ctx.config, plan.primary));
      switch (d.action) {
        case "serve":
          return await serveStored(ctx, ex, { obj, x: "HIT", code: hitCode(obj), result: "hit" });
        case "serve-stale":
          return await serveStored(ctx, ex, { obj, x: "STALE", code: "TCP_STALE_HIT", result: "stale" });
        case "serve-stale-revalidate":
          this.#backgroundRevalidate(req, plan, obj.meta);
          return await serveStored(ctx, ex, { obj, x: "STALE", code: "TCP_STALE_HIT", result: "stale" });
        case "miss-only-if-cached":
          out.result = "only_if_cached";
          out.status = 504;
          return await sendError(ctx, ex, { status: 504, message: "Not cached (only-if-cached)" });
        case "revalidate":
          if (!plan.pulled && ctx.lazyCopy) {
            // Another worker may have revalidated the URL since this copy was stored: take its
            // fresh copy rather than ask the origin again.
            const pull = ctx.lazyCopy.pull(plan.primary, { freshOnly: true });
            if (pull) {
              plan.pulled = true;
              if (await pull) return await this.lookup(ex, plan);
            }
          }
          return await this.#revalidate(ex, plan, obj);
      }
    }
    if (!obj && !plan.pulled && ctx.lazyCopy) {
      // Another worker may hold it: copy it here and serve it as a hit.
      const pull = ctx.lazyCopy.pull(plan.primary);
      if (pull) {
        plan.pulled = true;
        if (await pull) return await this.lookup(ex, plan);
      }
    }
    // A Range inside a stored part (RFC 9111 §3.3): served from it, never the whole.
    if (!obj && ctx.partials && req.headers.has("range") && await servePartial(ctx, ex, plan)) return;
    if (parseCacheControl(req.headers.get("cache-control")).onlyIfCached) {
      out.result = "only_if_cached";
      out.status = 504;
      return await sendError(ctx, ex, { status: 504, message: "Not cached (only-if-cached)" });
    }
    if (req.headers.has("range")) {
      // The 206 is relayed and kept as a part (never as the whole object) when parts are stored.
      if (ctx.partials && req.method === "GET") return await rangeMiss(ctx, ex, plan);
      plan.headers = forwardHeaders(req, {
        host: plan.host,
        node: ctx.node,
        cacheable: false,
        forwarded: ctx.forwarded,
      });
      plan.method = req.method;
      plan.onInterim = interimRelay(req, ex.res);
      return await pass(ctx, ex, plan);
    }
    // A stored part missing one run of bytes: ask only for those (RFC 9111 §3.4).
    if (ctx.partials && req.method === "GET" && await completePartial(ctx, ex, plan)) return;
    plan.headers = forwardHeaders(req, { host: plan.host, node: ctx.node, cacheable: true, forwarded: ctx.forwarded });
    plan.store = true;
    return await this.#miss(ex, plan);
  }

  /**
   * The stored variant whose Vary'd request fields match this request. A store that answers
   * synchronously (the memory store) gets no promise and no async frame: a miss's usual answer
   * (no variants) comes back at once.
   */
  #find(
    req: ServerRequest,
    primary: string,
    opts?: VariantsOpts,
  ): StoredObject | undefined | Promise<StoredObject | undefined> {
    const store = this.#ctx.store;
    const vr = store.variants(primary, opts);
    if (vr instanceof Promise) return vr.then((v) => this.#findIn(req, v, 0));
    return this.#findIn(req, vr, 0);
  }

  /** The first of `variants` from index `i` on that matches and is still stored. */
  #findIn(
    req: ServerRequest,
    variants: StoredMeta[],
    i: number,
  ): StoredObject | undefined | Promise<StoredObject | undefined> {
    const store = this.#ctx.store;
    for (; i < variants.length; i++) {
      const meta = variants[i];
      if (!varyMatches(meta, req.headers)) continue;
      const gr = store.get({ primary: meta.primary, variant: meta.variant });
      if (gr instanceof Promise) {
        const next = i + 1;
        return gr.then((obj) => obj ?? this.#findIn(req, variants, next));
      }
      if (gr) return gr;
    }
    return undefined;
  }

  /**
   * After claiming a miss across workers: whether the object turned up since this request looked
   * it up (a claim is not a lookup; see `shared_collapse.ts`): in this worker's store, or in
   * another worker's, which the index names (then copied here, unless this request asked already).
   * A memory store answers without yielding; a store that answers asynchronously (a disk tier)
   * and a lazy copy yield, and while they do this worker's other requests for the key wait in
   * {@link RequestFsm.#relooking}.
   */
  #storedMeanwhile(req: ServerRequest, plan: FetchPlan): boolean | Promise<boolean> {
    const store = this.#ctx.store;
    const vr = store.variants(plan.primary, RECHECK);
    if (vr instanceof Promise) return vr.then((list) => this.#storedMeanwhileAsync(req, plan, list, 0));
    for (let i = 0; i < vr.length; i++) {
      const meta = vr[i];
      if (!varyMatches(meta, req.headers)) continue;
      const got = store.get({ primary: meta.primary, variant: meta.variant });
      if (got instanceof Promise) {
        return got.then((obj) => obj !== undefined || this.#storedMeanwhileAsync(req, plan, vr, i + 1));
      }
      if (got) return true;
    }
    return this.#pulledMeanwhile(plan);
  }

  /** {@link RequestFsm.#storedMeanwhile} from variant `i` on, once a tier answered asynchronously. */
  async #storedMeanwhileAsync(
    req: ServerRequest,
    plan: FetchPlan,
    variants: StoredMeta[],
    i: number,
  ): Promise<boolean> {
    const store = this.#ctx.store;
    for (; i < variants.length; i++) {
      const meta = variants[i];
      if (!varyMatches(meta, req.headers)) continue;
      if (await store.get({ primary: meta.primary, variant: meta.variant })) return true;
    }
    return await this.#pulledMeanwhile(plan);
  }

  /** Whether another worker holds the object now (the index names it): then copied here. */
  #pulledMeanwhile(plan: FetchPlan): boolean | Promise<boolean> {
    const lazy = this.#ctx.lazyCopy;
    if (!lazy || plan.pulled) return false;
    const pull = lazy.pull(plan.primary);
    if (!pull) return false;
    plan.pulled = true;
    return pull;
  }

  /** Miss: join or lead a collapsed fetch and stream from it. */
  async #miss(ex: Exchange, plan: FetchPlan): Promise<void> {
    const { req, out } = ex;
    const ctx = this.#ctx;
    out.code = "TCP_MISS";
    out.result = "miss";
    const key = plan.primary;
    const collapse = ctx.config.collapse;
    if (collapse.enabled) {
      const f = ctx.fetch.joinable(key);
      if (f) {
        const head = await f.waitHead(collapse.waitMs);
        if (sharesHead(head, req)) {
          counters.collapsed++;
          out.hierarchy = "HIER_NONE";
          out.status = head!.status;
          // This client did not cause the fetch: no Set-Cookie (response_head.ts).
          return await serveInflight(ctx, ex, { f, head: head!, xCache: ctx.xMiss, follower: true });
        }
        if (head && head.kind === "not-modified") {
          counters.collapsed++;
          return await this.lookup(ex, plan);
        }
        // Timed out, failed, not shareable or another variant: go alone.
      }
    }
    if (parseCacheControl(req.headers.get("cache-control")).noStore) plan.store = false;
    let relooked: (() => void) | undefined;
    if (collapse.enabled && plan.store && !plan.waitedElsewhere) {
      const looking = this.#relooking.get(key);
      if (looking) {
        // This worker's request that claimed the key is looking it up once more: wait for that,
        // then join the fetch it started, or look up the object it found.
        await looking;
        if (ctx.fetch.joinable(key)) return await this.#miss(ex, plan);
        plan.waitedElsewhere = true;
        return await this.lookup(ex, plan);
      }
      // Another worker is fetching this URL: wait for its object, then look it up again.
      const wait = ctx.fetch.claimOrWait(key, collapse.waitMs);
      if (wait) {
        plan.waitedElsewhere = true;
        if (await wait) counters.collapsed++;
        return await this.lookup(ex, plan);
      }
      let meanwhile = ctx.fetch.holdsClaim(key) && this.#storedMeanwhile(req, plan);
      if (meanwhile instanceof Promise) {
        this.#relooking.set(key, new Promise<void>((resolve) => relooked = resolve));
        try {
          meanwhile = await meanwhile;
        } catch {
          meanwhile = false; // a failed look: fetch
        }
      }
      if (meanwhile) {
        // Another worker fetched it and released its claim between the lookup above and this
        // claim (an origin that answers at once leaves just that gap): serve its object.
        ctx.fetch.releaseClaim(key, true);
        this.#endRelook(key, relooked);
        counters.collapsed++;
        return await this.lookup(ex, plan);
      }
    }
    plan.onInterim = interimRelay(req, ex.res);
    let started;
    try {
      started = ctx.fetch.start(plan, {
        lead: collapse.enabled && plan.store,
        leaderReads: req.method !== "HEAD",
        source: out,
      });
    } finally {
      // The fetch is joinable now: the requests that waited for the look join it.
      this.#endRelook(key, relooked);
    }
    const { f, slot, task } = started;
    const head = await f.waitHead();
    if (!head) {
      if (slot) f.unreserve(slot);
      await task;
      return await sendOriginError(ctx, ex, f.error ?? new Error("fetch failed"));
    }
    out.status = head.status;
    await serveInflight(ctx, ex, { f, head, xCache: ctx.xMiss, slot });
    await task; // the fetch never rejects
  }

  /** Ends this request's look of {@link RequestFsm.#relooking}, if it made one. */
  #endRelook(key: string, relooked: (() => void) | undefined): void {
    if (!relooked) return;
    this.#relooking.delete(key);
    relooked();
  }

  /** A fetch of this URL in progress whose answer this revalidation can use, and its head. */
  async #joinRevalidation(req: ServerRequest, key: string): Promise<{ f: Inflight; head: InflightHead } | undefined> {
    const collapse = this.#ctx.config.collapse;
    const f = collapse.enabled ? this.#ctx.fetch.joinable(key) : undefined;
    if (!f) return undefined;
    const head = await f.waitHead(collapse.waitMs);
    if (head && (head.kind === "not-modified" || sharesHead(head, req))) {
      counters.collapsed++;
      return { f, head };
    }
    return undefined; // timed out, failed, not shareable or another variant: go alone
  }

  /** Revalidation of a stale stored object (collapsed like misses). */
  async #revalidate(ex: Exchange, plan: FetchPlan, obj: StoredObject): Promise<void> {
    const { req, out } = ex;
    const ctx = this.#ctx;
    out.code = "TCP_REFRESH_MODIFIED";
    out.result = "miss";
    plan.headers = forwardHeaders(req, { host: plan.host, node: ctx.node, cacheable: true, forwarded: ctx.forwarded });
    plan.store = !parseCacheControl(req.headers.get("cache-control")).noStore;
    const joined = await this.#joinRevalidation(req, plan.primary);
    let f = joined?.f;
    let head = joined?.head;
    let task: Promise<void> | undefined;
    let slot: object | undefined;
    if (!f) {
      plan.revalidating = obj.meta;
      plan.headers.push(...conditionalHeadersFor(obj.meta));
      plan.onInterim = interimRelay(req, ex.res);
      const started = ctx.fetch.start(plan, {
        lead: ctx.config.collapse.enabled && plan.store,
        leaderReads: req.method !== "HEAD",
        source: out,
      });
      ({ f, slot, task } = started);
      head = await f.waitHead();
    }
    const failed = !head || (head.kind === "response" && STALE_IF_ERROR_STATUSES.has(head.status));
    const useStale = failed &&
      staleIfErrorAllowed(req.headers, obj.meta, Date.now(), staleIfErrorOpts(ctx.config, plan.primary));
    if (slot && (useStale || !head || head.kind === "not-modified")) {
      f.unreserve(slot);
      slot = undefined;
    }
    if (useStale) {
      await serveStored(ctx, ex, { obj, x: "STALE", code: "TCP_REFRESH_FAIL_OLD", result: "stale" });
      if (task) await task;
      return;
    }
    if (failed) out.code = "TCP_REFRESH_FAIL_ERR"; // no stale copy allowed: the error goes out
    if (!head) {
      if (task) await task;
      const error = f.error ?? new Error("revalidation failed");
      if (staleProhibited(parseCacheControl(getHeader(obj.meta.headers, "cache-control")), true)) {
        // A disconnected cache answers 504 rather than reuse a stale must-revalidate (or
        // proxy-revalidate, s-maxage) response (RFC 9111 §5.2.2.2).
        out.result = "error";
        return await sendError(ctx, ex, {
          status: 504,
          message: `Gateway timeout: cannot revalidate: ${error.message}`,
        });
      }
      return await sendOriginError(ctx, ex, error);
    }
    if (head.kind === "not-modified") {
      if (task) await task;
      const fresh = await ctx.store.get({ primary: obj.meta.primary, variant: obj.meta.variant });
      return await serveStored(ctx, ex, {
        obj: fresh ?? obj,
        x: "REVALIDATED",
        code: "TCP_REFRESH_UNMODIFIED",
        result: "revalidated",
      });
    }
    out.status = head.status;
    // A client that joined another's revalidation (no task of its own) gets no Set-Cookie.
    const p = serveInflight(ctx, ex, { f, head, xCache: ctx.xMiss, slot, follower: !task });
    await Promise.all(task ? [p, task] : [p]);
  }

  /** stale-while-revalidate: a conditional fetch in the background, unless one is running. */
  #backgroundRevalidate(req: ServerRequest, plan: FetchPlan, meta: StoredMeta): void {
    const ctx = this.#ctx;
    if (ctx.fetch.joinable(plan.primary)) return;
    const p: FetchPlan = {
      ...plan,
      method: "GET",
      headers: [
        ...forwardHeaders(req, { host: plan.host, node: ctx.node, cacheable: true, forwarded: ctx.forwarded }),
        ...conditionalHeadersFor(meta),
      ],
      store: true,
      revalidating: meta,
      onInterim: undefined, // nobody waits for this fetch
    };
    const { task: fetched } = ctx.fetch.start(p, {
      lead: true,
      leaderReads: false,
      source: { hierarchy: "", peer: "" },
    });
    const task = fetched.catch(() => {}).finally(() => {
      this.#background.delete(task);
    });
    this.#background.add(task);
  }
}
