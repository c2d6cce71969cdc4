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
import { type CacheHandlerConfig, type FreshnessConfig, freshOpts, type Invalidator } from "./exchange.ts";
import { type FetchPlan, unconditional } from "./fetch_plan.ts";
import { Collapser, Inflight, type InflightHead } from "./inflight.ts";
import { counters } from "./metrics.ts";
import type { DestinationGuard } from "./destination_guard.ts";
import { ForwardedHeaders } from "./forwarded_headers.ts";
import type { PeerSelector } from "./peer_selector.ts";
import { peerCopy, withoutCookies } from "./response_head.ts";
import type { SharedCollapse } from "./shared_collapse.ts";
import {
  correctedInitialAgeMs,
  expiresAtMs,
  formatHttpDate,
  isStorable,
  parseVary,
  stripHopByHop,
  varyKey,
} from "./semantics/mod.ts";
import type { Store, StoredMeta, StoreWriter } from "./store/store.ts";
import { applyHeadResponse, applyNotModified } from "./stored_update.ts";
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
  config: Pick<CacheHandlerConfig, "maxObjectBytes"> & FreshnessConfig;
  /** Deletes a URL's variants everywhere (a 304 that changes Vary). */
  invalidate: Invalidator;
  /** Where requests go; default the origin. */
  peers?: PeerSelector;
  /** Request collapsing across workers. */
  sharedCollapse?: SharedCollapse;
  /** Trusted client forwarding fields, which join the key as an implied Vary; default none. */
  forwarded?: ForwardedHeaders;
  /** Checks the address a guarded (forward/transparent) origin connection reached. */
  destinations?: DestinationGuard;
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

/** What {@link FetchStage} learnt when it published a response head. */
interface Published {
  /** The store write, when the response is stored. */
  writer?: StoreWriter;
  /** The body length from Content-Length, when it has one. */
  length?: number;
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
  #o: FetchStageOptions & { forwarded: ForwardedHeaders };
  readonly #collapser: Collapser;
  /** Peer or origin choice and sending (passes use it directly). */
  readonly upstream: Upstream;

  /**
   * Creates the stage.
   *
   * @param opts store, pool, settings and hooks
   */
  constructor(opts: FetchStageOptions) {
    this.#o = { ...opts, forwarded: opts.forwarded ?? new ForwardedHeaders([]) };
    this.#collapser = new Collapser(opts.sharedCollapse);
    this.upstream = new Upstream(opts.pool, opts.peers, opts.destinations);
  }

  /**
   * Uses new settings (object size limit, freshness heuristics) for the fetches that start from
   * now on (SIGHUP).
   *
   * @param config the new settings
   */
  reconfigure(config: FetchStageOptions["config"]): void {
    this.#o = { ...this.#o, config };
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
   * Whether this worker holds the cross-worker claim of `key`.
   *
   * @param key primary cache key
   */
  holdsClaim(key: string): boolean {
    return this.#collapser.holdsClaim(key);
  }

  /**
   * Ends a claim from {@link claimOrWait} without fetching (the object turned up meanwhile).
   *
   * @param key primary cache key
   * @param stored whether the object is stored somewhere now
   */
  releaseClaim(key: string, stored: boolean): void {
    this.#collapser.releaseClaim(key, stored);
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
    // A HEAD goes upstream as HEAD only when its answer is not to be stored (else as GET).
    const sentHead = plan.method === "HEAD" && !plan.store;
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
    if (sentHead) await this.#headAnswered(plan, r, { requestTime, responseTime });
    // Synchronous with a synchronous store: from the head's publication to the end of a small
    // body read at once nothing yields, so the readers woken by the head find the body complete
    // and send head and body in one write (serve_inflight.ts) without iterating it.
    const pub = this.#publish(f, plan, r, {
      requestTime,
      responseTime,
      peerCopy: peerCopy(source.hierarchy, r.head.headers.get("x-cache")),
    });
    const { writer, length } = pub instanceof Promise ? await pub : pub;
    if (!writer) this.#collapser.release(key, f);
    if (r.framing.kind === "none") {
      r.abort();
      if (writer) await this.#commit(writer, key, r.clean);
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
   * A 304 answered a revalidation: freshen the stored responses it selects (`stored_update.ts`),
   * or fetch again without conditions when it does not select the revalidated one or changes Vary.
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
    const result = await applyNotModified(this.#o.store, old, {
      fields: r.head.headers.fields,
      requestTime: t.requestTime,
      responseTime: t.responseTime,
      fresh: freshOpts(this.#o.config, old.primary),
      varyWith: (v) => this.#o.forwarded.varyWith(v),
    });
    if (result.kind === "refetch") {
      // Not selected or Vary changed (see `stored_update.ts`): ask again without conditions.
      log.debug("304 cannot freshen the stored response; refetching", { url: key, reason: result.reason });
      if (result.reason === "vary-changed") await this.#o.invalidate([old.primary]);
      return await this.#run(f, unconditional(plan), t.leaderReads, t.source);
    }
    f.setHead({
      kind: "not-modified",
      status: 304,
      reason: "Not Modified",
      headers: result.meta.headers,
      vary: result.meta.vary,
      variant: result.meta.variant,
      shareable: true,
    });
    f.finish();
    this.#collapser.release(key, f);
  }

  /**
   * An inbound HEAD got its answer: update the stored GET responses it describes, or drop the URL
   * when they no longer match it (RFC 9111 §4.3.5; `stored_update.ts`).
   */
  async #headAnswered(
    plan: FetchPlan,
    r: OriginResponse,
    t: { requestTime: number; responseTime: number },
  ): Promise<void> {
    const { changed } = await applyHeadResponse(this.#o.store, plan, {
      status: r.head.status,
      fields: r.head.headers.fields,
      ...t,
      fresh: freshOpts(this.#o.config, plan.primary),
      varyWith: (v) => this.#o.forwarded.varyWith(v),
    });
    if (changed) {
      log.debug("HEAD shows the stored response changed; dropping it", { url: plan.primary });
      await this.#o.invalidate([plan.primary]);
    }
  }

  /**
   * Decides whether the response is stored, opens the store write when it is, and publishes the
   * head to the inflight's readers.
   *
   * @returns the store writer (none when not stored) and the body length when known; a promise
   *   only when the store opens its write asynchronously
   */
  #publish(
    f: Inflight,
    plan: FetchPlan,
    r: OriginResponse,
    t: { requestTime: number; responseTime: number; peerCopy: boolean },
  ): Published | Promise<Published> {
    const status = r.head.status;
    // Hop-by-hop fields (Transfer-Encoding among them) and Content-Length go; a Date is added if missing.
    let headers = stripHopByHop(r.head.headers.fields);
    // A peer's stored copy: no cookie of another client may come through it.
    if (t.peerCopy) headers = withoutCookies(headers);
    let hasDate = false;
    for (let i = headers.length - 1; i >= 0; i--) {
      const k = headers[i][0];
      if (k === "content-length") headers.splice(i, 1);
      else if (k === "date") hasDate = true;
    }
    if (!hasDate) headers.push(["date", formatHttpDate(t.responseTime)]);
    const length = r.framing.kind === "length"
      ? r.framing.length
      : r.framing.kind === "none"
      ? (r.head.status === 304 || r.head.status === 204 ? 0 : r.declaredLength) // HEAD: the origin's
      : undefined;
    // Trusted client forwarding fields reach the origin, so they key the answer (forwarded_headers.ts).
    const vary = this.#o.forwarded.varyWith(parseVary(r.head.headers.get("vary")));
    const variant = vary === "*" ? "" : varyKey(vary, plan.reqHeaders);
    let storable = false;
    // Qualified private=/no-cache= fields: relayed to this client, never stored nor shared.
    let initiatorOnly: string[] | undefined;
    // Computed once for the stored object's expiry and the clients' Age (Date and Age parsed once).
    const initialAgeMs = correctedInitialAgeMs({
      headers: r.head.headers.fields,
      requestTime: t.requestTime,
      responseTime: t.responseTime,
    });
    let fresh: (ReturnType<typeof freshOpts> & { initialAgeMs?: number }) | undefined;
    if (plan.store && !(plan.revalidating && status >= 500)) {
      fresh = freshOpts(this.#o.config, plan.primary);
      const d = isStorable({ method: "GET", headers: plan.reqHeaders }, { status, headers }, fresh);
      storable = d.storable && (length === undefined || length <= this.#o.config.maxObjectBytes);
      if (storable && d.stripFields.length) initiatorOnly = d.stripFields;
    }
    let opened: StoreWriter | Promise<StoreWriter> | undefined;
    if (storable) {
      const meta: StoredMeta = {
        primary: plan.primary,
        variant,
        status,
        // Set-Cookie is for the client that caused this fetch (it gets `headers`), never stored.
        headers: withoutCookies(initiatorOnly ? headers.filter(([k]) => !initiatorOnly!.includes(k)) : headers),
        vary: vary === "*" ? ["*"] : vary,
        requestTime: t.requestTime,
        responseTime: t.responseTime,
        expiresAt: 0,
        bodyBytes: length ?? -1,
      };
      // The stored fields keep the response's Date and Age unless a Date was added (then the age
      // is computed from it, as before) or private="…"/no-cache="…" named one of them.
      if (hasDate && initiatorOnly === undefined) fresh!.initialAgeMs = initialAgeMs;
      meta.expiresAt = expiresAtMs(meta, fresh!);
      try {
        opened = this.#o.store.openWrite(meta);
      } catch (e) {
        log.debug("Store refused object", { url: plan.primary, error: e });
      }
    }
    const head: InflightHead = {
      kind: "response",
      status,
      reason: r.head.reason,
      headers,
      bodyBytes: length,
      vary,
      variant,
      shareable: false,
      initiatorOnly,
      initialAgeMs,
      responseTime: t.responseTime,
    };
    if (opened instanceof Promise) {
      return opened.then((w) => this.#published(f, plan, r, head, w), (e) => {
        log.debug("Store refused object", { url: plan.primary, error: e });
        return this.#published(f, plan, r, head, undefined);
      });
    }
    return this.#published(f, plan, r, head, opened);
  }

  /** Publishes the head once the store write is open (or refused). */
  #published(
    f: Inflight,
    plan: FetchPlan,
    r: OriginResponse,
    head: InflightHead,
    writer: StoreWriter | undefined,
  ): Published {
    // Stray bytes after this response on its idle connection: it was probably cut wrong; drop it.
    if (writer) r.onLateTrouble(() => void this.#o.invalidate([plan.primary]).catch(() => {}));
    f.retainAll = writer !== undefined;
    head.shareable = writer !== undefined;
    f.setHead(head);
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
    if (writer) await this.#commit(writer, key, r.clean);
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
      const c = this.#commit(writer, key, r.clean);
      if (c instanceof Promise) await c;
    }
    f.finish();
    this.#collapser.release(key, f);
  }

  /**
   * Commits a store write; false (and aborted) when the store refused it, or when the origin
   * exchange was not clean (bytes after the body, a body on a bodiless answer): such a response is
   * never stored.
   */
  #commit(writer: StoreWriter, key: string, clean: boolean): boolean | Promise<boolean> {
    if (!clean) {
      log.debug("Not storing a response with framing trouble", { url: key });
      return this.#commitFailed(writer, key, new Error("origin framing trouble"));
    }
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
