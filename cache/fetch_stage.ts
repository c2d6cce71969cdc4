/**
 * `FetchStage`: the origin side of the cache. It sends requests through {@link Upstream} (a
 * peer per the {@link PeerSelector}, else the origin), leads collapsed fetches (one origin request per URL,
 * followers join its {@link Inflight}), and streams the answer into the store while readers take
 * it chunk by chunk:
 *
 * ```
 * start(plan) ── Upstream.send (peer, else origin) ── head
 *   ├─ 304 to a revalidation ─┬─ selects the stored one → freshen its headers
 *   │                         └─ does not, or changes Vary → unconditional refetch
 *   └─ response ── storable? ── openWrite ── publish head to the readers
 *        ├─ small Content-Length → read whole, store, one chunk
 *        └─ else stream: store each chunk, push it to the readers
 * ```
 *
 * A fetch never rejects: failures end up in `Inflight.error`. The store write is committed only
 * when the whole body arrived, so a stored object is complete or absent.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import type { OriginPool, OriginResponse } from "../http/origin_client.ts";
import { type CacheHandlerConfig, freshOpts, type Invalidator } from "./exchange.ts";
import { type FetchPlan, unconditional } from "./fetch_plan.ts";
import { Collapser, Inflight } from "./inflight.ts";
import { counters } from "./metrics.ts";
import type { PeerSelector } from "./peer_selector.ts";
import type { SharedCollapse } from "./shared_collapse.ts";
import {
  correctedInitialAgeMs,
  expiresAtMs,
  formatHttpDate,
  getHeader,
  isStorable,
  mergeHeadersFrom304,
  parseVary,
  select304Targets,
  stripHopByHop,
  varyKey,
} from "./semantics/mod.ts";
import type { Store, StoredMeta, StoreWriter } from "./store/store.ts";
import { type FetchSource, Upstream } from "./upstream.ts";

const log = getLogger("cache");

/**
 * Origin bodies with a Content-Length up to this size are read at once into one buffer (no
 * per-chunk async iteration); larger or chunked ones stream. Small enough that holding one per
 * concurrent miss costs little, large enough for typical small objects.
 */
export const WHOLE_BODY_BYTES = 64 * 1024;

/** Options of {@link FetchStage}. */
export interface FetchStageOptions {
  /** Where objects are stored. */
  store: Store;
  /** Connections to origins and peers. */
  pool: OriginPool;
  /** Object size limit, heuristic freshness. */
  config: Pick<CacheHandlerConfig, "maxObjectBytes" | "heuristicPercent" | "heuristicMaxS">;
  /** Deletes a URL's variants everywhere (a 304 that changes Vary). */
  invalidate: Invalidator;
  /** Where requests go; default the origin. */
  peers?: PeerSelector;
  /** Request collapsing across workers. */
  sharedCollapse?: SharedCollapse;
}

/** How {@link FetchStage.start} runs a fetch. */
export interface StartOptions {
  /** Register it as the collapse leader for the URL (followers may join). */
  lead: boolean;
  /** Whether the caller's client reads the body (reserves a read slot; else a HEAD or background). */
  leaderReads: boolean;
  /** Receives where the response came from. */
  source: FetchSource;
}

/** A fetch that {@link FetchStage.start} began. */
export interface StartedFetch {
  /** Its inflight. */
  f: Inflight;
  /** The caller's read slot when `leaderReads`. */
  slot?: object;
  /** Settles when the fetch is done; never rejects. */
  task: Promise<void>;
}

/** The fetch stage; see the module doc. */
export class FetchStage {
  readonly #o: FetchStageOptions;
  readonly #collapser: Collapser;
  /** Peer or origin choice and sending (passes use it directly). */
  readonly upstream: Upstream;

  /**
   * Creates the stage.
   *
   * @param opts store, pool, settings and hooks
   */
  constructor(opts: FetchStageOptions) {
    this.#o = opts;
    this.#collapser = new Collapser(opts.sharedCollapse);
    this.upstream = new Upstream(opts.pool, opts.peers);
  }

  /**
   * The fetch in progress for `key` that a request may join, if any.
   *
   * @param key primary cache key
   */
  joinable(key: string): Inflight | undefined {
    return this.#collapser.get(key);
  }

  /**
   * Before leading a fetch that may be stored: claims `key` across workers, or returns a wait.
   *
   * @param key primary cache key
   * @param waitMs the wait bound
   * @returns undefined to go ahead; else resolves true when the object should be stored here now
   */
  claimOrWait(key: string, waitMs: number): Promise<boolean> | undefined {
    return this.#collapser.claimOrWait(key, waitMs);
  }

  /**
   * Starts fetching `plan` into a new inflight.
   *
   * @param plan what to fetch
   * @param opts leadership, whether the caller reads, where to record the source
   * @returns the inflight, the caller's read slot, and the task
   */
  start(plan: FetchPlan, opts: StartOptions): StartedFetch {
    const f = opts.lead ? this.#collapser.lead(plan.primary) : new Inflight();
    const slot = opts.leaderReads ? f.reserve() : undefined;
    const task = this.#run(f, plan, opts.leaderReads, opts.source);
    return { f, slot, task };
  }

  /**
   * Fetches into an inflight: publishes the head, streams chunks, stores the object when allowed.
   * Never throws; failures end up in `f.error`.
   */
  async #run(f: Inflight, plan: FetchPlan, leaderReads: boolean, source: FetchSource): Promise<void> {
    const key = plan.primary;
    const requestTime = Date.now();
    let r: OriginResponse;
    try {
      r = await this.upstream.send(plan, source);
    } catch (e) {
      f.fail(e as Error);
      this.#collapser.release(key, f);
      return;
    }
    const responseTime = Date.now();
    if (r.head.status === 304 && plan.revalidating) {
      return await this.#notModified(f, plan, r, { leaderReads, source, requestTime, responseTime });
    }
    const { writer, length } = await this.#publish(f, plan, r, { requestTime, responseTime });
    if (!writer) this.#collapser.release(key, f);
    if (r.framing.kind === "none") {
      r.abort();
      if (writer) await this.#commit(writer, key);
      f.finish();
      this.#collapser.release(key, f);
      return;
    }
    if (!writer && !leaderReads) {
      r.abort();
      f.finish();
      return;
    }
    if (length !== undefined && length <= WHOLE_BODY_BYTES) return await this.#fetchWhole(f, r, key, writer);
    await this.#stream(f, r, key, writer);
  }

  /**
   * A 304 answered a revalidation: freshen the stored response with its fields (RFC 9111 §4.3.4),
   * or fetch again without conditions when it does not select it or changes Vary.
   */
  async #notModified(
    f: Inflight,
    plan: FetchPlan,
    r: OriginResponse,
    t: { leaderReads: boolean; source: FetchSource; requestTime: number; responseTime: number },
  ): Promise<void> {
    const key = plan.primary;
    r.abort();
    const old = plan.revalidating!;
    if (select304Targets([old], r.head.headers.fields).length === 0) {
      // The 304's validator does not select the stored response (RFC 9111 §4.3.4; e.g. the
      // origin's ETag changed under a stale If-Modified-Since): it must not be freshened with
      // this 304. Ask again without conditions (§4.3.3); that answer replaces it.
      log.debug("304 does not match the stored response; refetching", { url: key });
      return await this.#run(f, unconditional(plan), t.leaderReads, t.source);
    }
    const merged = mergeHeadersFrom304(old.headers, r.head.headers.fields, { responseTime: t.responseTime });
    const newVary = parseVary(getHeader(merged, "vary"));
    if (newVary === "*" || newVary.join(",") !== old.vary.join(",")) {
      // The 304 changed Vary. Keeping the old `vary`/variant key would serve this body to
      // requests the origin now tells apart (RFC 9111 §4.1). Every stored variant of the URL is
      // keyed by the old Vary, and the new fields' values in the requests that stored them were
      // never kept, so they cannot be re-keyed; this one could be (under this request's values)
      // but the Store has no rename, so that means copying the body anyway. Simpler and correct:
      // drop the URL's variants and store a fresh answer fetched without conditions, keyed by
      // the new Vary and this request — one body transfer on a rare event.
      log.debug("304 changed Vary; replacing the stored variants", { url: key });
      await this.#o.invalidate([old.primary]);
      return await this.#run(f, unconditional(plan), t.leaderReads, t.source);
    }
    const meta: StoredMeta = {
      ...old,
      headers: merged,
      requestTime: t.requestTime,
      responseTime: t.responseTime,
      expiresAt: 0,
    };
    meta.expiresAt = expiresAtMs(meta, freshOpts(this.#o.config));
    await this.#o.store.updateMeta(meta);
    f.setHead({
      kind: "not-modified",
      status: 304,
      reason: "Not Modified",
      headers: merged,
      vary: old.vary,
      variant: old.variant,
      shareable: true,
    });
    f.finish();
    this.#collapser.release(key, f);
  }

  /**
   * Decides whether the response is stored, opens the store write when it is, and publishes the
   * head to the inflight's readers.
   *
   * @returns the store writer (none when not stored) and the body length when known
   */
  async #publish(
    f: Inflight,
    plan: FetchPlan,
    r: OriginResponse,
    t: { requestTime: number; responseTime: number },
  ): Promise<{ writer?: StoreWriter; length?: number }> {
    const status = r.head.status;
    // Hop-by-hop fields (Transfer-Encoding among them) and Content-Length go; a Date is added if missing.
    let headers = stripHopByHop(r.head.headers.fields);
    let hasDate = false;
    for (let i = headers.length - 1; i >= 0; i--) {
      const k = headers[i][0];
      if (k === "content-length") headers.splice(i, 1);
      else if (k === "date") hasDate = true;
    }
    if (!hasDate) headers.push(["date", formatHttpDate(t.responseTime)]);
    const length = r.framing.kind === "length" ? r.framing.length : r.framing.kind === "none" ? 0 : undefined;
    const vary = parseVary(r.head.headers.get("vary"));
    const variant = vary === "*" ? "" : varyKey(vary, plan.reqHeaders);
    let storable = false;
    if (plan.store && !(plan.revalidating && status >= 500)) {
      const d = isStorable({ method: "GET", headers: plan.reqHeaders }, { status, headers }, freshOpts(this.#o.config));
      storable = d.storable && (length === undefined || length <= this.#o.config.maxObjectBytes);
      if (storable && d.stripFields.length) headers = headers.filter(([k]) => !d.stripFields.includes(k));
    }
    let writer: StoreWriter | undefined;
    if (storable) {
      const meta: StoredMeta = {
        primary: plan.primary,
        variant,
        status,
        headers,
        vary: vary === "*" ? ["*"] : vary,
        requestTime: t.requestTime,
        responseTime: t.responseTime,
        expiresAt: 0,
        bodyBytes: length ?? -1,
      };
      meta.expiresAt = expiresAtMs(meta, freshOpts(this.#o.config));
      try {
        const w = this.#o.store.openWrite(meta);
        writer = w instanceof Promise ? await w : w;
      } catch (e) {
        log.debug("Store refused object", { url: plan.primary, error: e });
      }
    }
    f.retainAll = writer !== undefined;
    f.setHead({
      kind: "response",
      status,
      reason: r.head.reason,
      headers,
      bodyBytes: length,
      vary,
      variant,
      shareable: writer !== undefined,
      initialAgeMs: correctedInitialAgeMs({ headers: r.head.headers.fields, ...t }),
      responseTime: t.responseTime,
    });
    return { writer, length: r.framing.kind === "length" ? r.framing.length : undefined };
  }

  /** Streams a body chunk by chunk into the store and to the readers. */
  async #stream(f: Inflight, r: OriginResponse, key: string, writer: StoreWriter | undefined): Promise<void> {
    let hadReader = false;
    try {
      for await (const chunk of r.body()) {
        counters.originBytes += chunk.length;
        if (writer) {
          try {
            await writer.write(chunk);
          } catch (e) {
            writer = await this.#storeFailed(f, key, writer, e);
          }
        }
        const wait = f.push(chunk);
        if (wait) await wait;
        if (!f.unread) hadReader = true;
        if (!writer && hadReader && f.unread) {
          // Nobody reads and nothing is stored: stop fetching.
          r.abort();
          f.fail(new Error("All clients went away"));
          return;
        }
      }
    } catch (e) {
      if (writer) await writer.abort();
      f.fail(e as Error);
      this.#collapser.release(key, f);
      return;
    }
    if (writer) await this.#commit(writer, key);
    f.finish();
    this.#collapser.release(key, f);
  }

  /**
   * A store write failed: abort the object, let the readers stream without keeping every chunk,
   * and release the collapse claim so later requests do not wait for an object that will not be.
   *
   * @returns undefined, the writer to use from now on
   */
  async #storeFailed(f: Inflight, key: string, writer: StoreWriter, e: unknown): Promise<undefined> {
    log.debug("Object not stored", { url: key, error: e });
    await writer.abort();
    f.retainAll = false;
    this.#collapser.release(key, f);
    return undefined;
  }

  /**
   * The rest of a fetch for a small length-delimited body: read it at once (usually already
   * buffered with the head, so no await at all), store it, hand it to the readers as one chunk. A
   * body cut short fails the inflight like a streamed one; the head was published already, so
   * clients see a truncated response and a closed connection.
   */
  async #fetchWhole(f: Inflight, r: OriginResponse, key: string, writer: StoreWriter | undefined): Promise<void> {
    let body: Uint8Array;
    try {
      const got = r.readWhole();
      body = got instanceof Promise ? await got : got;
    } catch (e) {
      if (writer) await writer.abort();
      f.fail(e as Error);
      this.#collapser.release(key, f);
      return;
    }
    counters.originBytes += body.length;
    if (writer) {
      try {
        const w = writer.write(body);
        if (w instanceof Promise) await w;
      } catch (e) {
        writer = await this.#storeFailed(f, key, writer, e);
      }
    }
    f.push(body); // one chunk, within the back-pressure limit: never waits
    if (writer) {
      const c = this.#commit(writer, key);
      if (c instanceof Promise) await c;
    }
    f.finish();
    this.#collapser.release(key, f);
  }

  /** Commits a store write; false (and aborted) when the store refused it. */
  #commit(writer: StoreWriter, key: string): boolean | Promise<boolean> {
    let c: void | Promise<void>;
    try {
      c = writer.commit();
    } catch (e) {
      return this.#commitFailed(writer, key, e);
    }
    if (c instanceof Promise) return c.then(() => this.#committed(true), (e) => this.#commitFailed(writer, key, e));
    return this.#committed(true);
  }

  async #commitFailed(writer: StoreWriter, key: string, e: unknown): Promise<boolean> {
    log.debug("Commit failed", { url: key, error: e });
    await writer.abort();
    return this.#committed(false);
  }

  #committed(ok: boolean): boolean {
    const s = this.#o.store.stats();
    counters.storedObjects = s.objects;
    counters.storedBytes = s.bytes;
    return ok;
  }
}
