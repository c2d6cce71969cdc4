/**
 * {@link PurgeFanout}: cluster-wide invalidation, run by the main process of each cache.
 *
 * ```
 *  PURGE (any worker) ─┐                        ┌─> every other live cache member: `purge` over TCP,
 *  POST /purge (admin) ┴─> ban issued here ─────┤   sealed with the cluster key, answered `purgeAck`
 *                          (ACL checked there)  ├─> this node: ban list of the main process and of
 *                                               │   every worker (`bans` worker message), url purges
 *                                               │   deleted at once in every worker's stores
 *                                               └─> bans.bin (disk tier), record digest (gossip)
 * ```
 *
 * The purge goes to every cache member that is alive, suspect or draining (a draining cache still
 * serves what it holds). A member that missed the direct message (down, partitioned, timed out) converges through gossip:
 * every cache puts its ban list digest (`BanList.digest`) into its membership record; on a member
 * list change, a cache whose digest differs from a live peer's sends it its list in `bans`
 * messages and merges the list that comes back (each pair once per pair of digests).
 *
 * Requests from other members need the cluster key (`Membership.onRequest` serves none without
 * one); the purge ACL is checked where the purge enters the cluster, so members trust each other.
 *
 * @module
 */
import type { Ban, BanSet } from "../cluster/ban_codec.ts";
import { bansMessages, type Message } from "../cluster/codec.ts";
import type { NodeRecord } from "../cluster/node.ts";
import { liveMembers } from "../cluster/select.ts";
import { getLogger } from "../core/log.ts";
import type { BanList } from "./ban_list.ts";
import type { PurgeResult } from "./purge_request.ts";
import { bansGauge, purgeAcksTotal, purgesTotal } from "./metrics.ts";

const log = getLogger("cache.purge");

/** Members a purge is sent to: a draining cache still serves its objects, a suspect one may be alive. */
const PURGE_STATES = ["alive", "suspect", "draining"] as const;
/** Members whose ban list is synced. */
const SYNC_STATES = ["alive", "draining"] as const;

/** The part of `Membership` the fan-out uses. */
export interface PurgeCluster {
  /** This node's record. */
  readonly local: NodeRecord;
  /** Every known member, this node first. */
  members(): NodeRecord[];
  /** Sends a sealed request to a member's gossip address and returns its reply. */
  request(addr: string, msgs: Message[], timeoutMs?: number): Promise<Message[]>;
  /** Serves requests from members. */
  onRequest(fn: (msgs: Message[], from: string) => Promise<Message[] | undefined>): void;
  /** Changes this node's record (the ban digest). */
  update(patch: { bans?: string }): NodeRecord;
  /** Calls `cb` after member list changes. */
  onChange(cb: (members: NodeRecord[]) => void): () => void;
}

/** Options of {@link PurgeFanout}. */
export interface PurgeFanoutOptions {
  /** The main process's ban list (its store is seen through it). */
  bans: BanList;
  /** Deletes URLs in every worker's stores; returns how many objects went. */
  deleteKeys(keys: string[]): Promise<number>;
  /** Hands bans new here to every worker (they merge them into their own lists). */
  toWorkers(set: BanSet): void;
  /** Writes the list to disk (disk tier); failures are logged, not thrown. */
  persist?(set: BanSet): Promise<void>;
  /** How long to wait for each member's acknowledgement (ms). */
  timeoutMs: number;
  /** How often to retire old bans and retry syncs with members whose digest still differs (ms). */
  tickMs?: number;
}

/** Cluster-wide invalidation of one cache node; see the module doc. */
export class PurgeFanout {
  readonly #o: PurgeFanoutOptions;
  #cluster?: PurgeCluster;
  /** `peer id` → `their digest/our digest` last synced, so a pair syncs once per change. */
  readonly #synced = new Map<string, string>();
  readonly #syncing = new Set<string>();
  #persistTimer?: ReturnType<typeof setTimeout>;
  #persisting = Promise.resolve();
  #digestTimer?: ReturnType<typeof setTimeout>;
  readonly #retireTimer: ReturnType<typeof setInterval>;
  #closed = false;

  /**
   * Creates the fan-out; {@link attach} connects it to the cluster.
   *
   * @param opts ban list, local deletion, workers, persistence and timeouts
   */
  constructor(opts: PurgeFanoutOptions) {
    this.#o = opts;
    this.#retireTimer = setInterval(() => {
      if (this.#o.bans.retire() > 0) this.#changed([]);
      if (this.#cluster) this.#syncDiffering(this.#cluster.members());
    }, opts.tickMs ?? 2000);
  }

  /** The current ban list (for a worker that starts). */
  snapshot(): BanSet {
    return this.#o.bans.snapshot();
  }

  /**
   * Connects to cluster membership: serves `purge` and `bans` requests, publishes the ban digest
   * and syncs with members whose digest differs.
   */
  attach(cluster: PurgeCluster): void {
    this.#cluster = cluster;
    cluster.onRequest((msgs, from) => this.#serve(msgs, from));
    cluster.onChange((members) => this.#syncDiffering(members));
    this.#publishDigest();
  }

  /**
   * Applies a purge received by this node and sends it to every other live cache.
   *
   * @param ban the ban issued here
   * @param localDeleted objects already deleted here for a url purge (the PURGE handler deleted
   *   them in every worker); undefined to delete them now
   */
  async purge(ban: Ban, localDeleted?: number): Promise<PurgeResult> {
    purgesTotal.inc({ kind: ban.kind, source: "local" });
    const here = await this.#apply(ban, localDeleted !== undefined);
    const result: PurgeResult = {
      id: ban.id,
      kind: ban.kind,
      pattern: ban.pattern,
      deleted: here + (localDeleted ?? 0),
      nodes: 0,
      acked: 0,
      failed: [],
    };
    const c = this.#cluster;
    if (!c) return result;
    const peers = liveMembers(c.members(), { role: "cache", exclude: c.local.id, states: PURGE_STATES });
    result.nodes = peers.length;
    await Promise.all(peers.map(async (p) => {
      try {
        const reply = await c.request(p.addrs.gossip, [{ type: "purge", ban }], this.#o.timeoutMs);
        const ack = reply.find((m) => m.type === "purgeAck");
        if (ack?.type !== "purgeAck" || ack.id !== ban.id) throw new Error("no acknowledgement in the reply");
        result.acked++;
        result.deleted += ack.deleted;
        purgeAcksTotal.inc({ result: "ok" });
      } catch (e) {
        result.failed.push(p.name);
        purgeAcksTotal.inc({ result: "failed" });
        log.warn("Cache did not acknowledge a purge; it converges by ban list sync", {
          peer: p.name,
          error: (e as Error).message,
        });
      }
    }));
    log.info("Purge", { kind: ban.kind, url: ban.pattern.slice(0, 200), nodes: result.nodes, acked: result.acked });
    return result;
  }

  /** Adds a ban here (workers, url deletion, persistence, digest); returns objects deleted. */
  async #apply(ban: Ban, deletedAlready: boolean): Promise<number> {
    const isNew = this.#o.bans.add(ban);
    if (isNew) this.#changed([ban]);
    // A url purge deletes at once even when the ban was known (a retry must still clear a copy).
    if (ban.kind === "url" && !deletedAlready) return await this.#o.deleteKeys([ban.pattern]);
    return 0;
  }

  async #serve(msgs: Message[], from: string): Promise<Message[] | undefined> {
    if (this.#closed) return undefined;
    const first = msgs[0];
    if (first?.type === "purge") {
      purgesTotal.inc({ kind: first.ban.kind, source: "peer" });
      const deleted = await this.#apply(first.ban, false);
      return [{ type: "purgeAck", id: first.ban.id, deleted }];
    }
    if (first?.type === "bans") {
      this.#merge(msgs);
      log.debug("Ban list sync served", { from });
      return this.#bansReply();
    }
    return undefined;
  }

  #bansReply(): Message[] {
    const s = this.#o.bans.snapshot();
    return bansMessages(s.floorMs, s.bans);
  }

  #merge(msgs: Message[]): void {
    const bans = this.#o.bans;
    const floorBefore = bans.floorMs;
    const added: Ban[] = [];
    for (const m of msgs) if (m.type === "bans") added.push(...bans.merge({ floorMs: m.floorMs, bans: m.bans }));
    if (added.length || bans.floorMs !== floorBefore) this.#changed(added);
    // url bans learnt by sync: free their objects now (lookups would drop them anyway).
    const urls = added.filter((b) => b.kind === "url").map((b) => b.pattern);
    if (urls.length) this.#o.deleteKeys(urls).catch(() => {});
  }

  /** After a change of the list: workers, disk, digest. */
  #changed(added: Ban[]): void {
    if (this.#closed) return;
    bansGauge.set(this.#o.bans.size);
    this.#o.toWorkers({ floorMs: this.#o.bans.floorMs, bans: added });
    if (this.#o.persist && this.#persistTimer === undefined) {
      this.#persistTimer = setTimeout(() => {
        this.#persistTimer = undefined;
        const set = this.#o.bans.snapshot();
        this.#persisting = this.#persisting.then(() => this.#o.persist!(set)).catch((e) =>
          log.error("Cannot write the ban list", { error: e as Error })
        );
      }, 20);
    }
    if (this.#digestTimer === undefined) {
      this.#digestTimer = setTimeout(() => {
        this.#digestTimer = undefined;
        this.#publishDigest();
      }, 50);
    }
  }

  #publishDigest(): void {
    const c = this.#cluster;
    if (!c || this.#closed) return;
    const d = this.#o.bans.digest();
    if ((c.local.bans ?? "") !== d) c.update({ bans: d });
  }

  #syncDiffering(members: NodeRecord[]): void {
    const c = this.#cluster;
    if (!c || this.#closed) return;
    const mine = this.#o.bans.digest();
    for (const p of liveMembers(members, { role: "cache", exclude: c.local.id, states: SYNC_STATES })) {
      const theirs = p.bans ?? "";
      const pair = `${theirs}/${mine}`;
      if (theirs === mine || this.#synced.get(p.id) === pair || this.#syncing.has(p.id)) continue;
      this.#syncing.add(p.id);
      this.#synced.set(p.id, pair);
      c.request(p.addrs.gossip, this.#bansReply(), this.#o.timeoutMs * 5)
        .then((reply) => {
          this.#merge(reply);
          log.info("Ban lists synced", { peer: p.name, bans: this.#o.bans.size });
        })
        .catch((e) => {
          this.#synced.delete(p.id);
          log.debug("Ban list sync failed", { peer: p.name, error: (e as Error).message });
        })
        .finally(() => this.#syncing.delete(p.id));
    }
  }

  /** Stops the timers and waits for the last write of the list. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#retireTimer);
    clearTimeout(this.#digestTimer);
    if (this.#persistTimer !== undefined) {
      clearTimeout(this.#persistTimer);
      this.#persistTimer = undefined;
      if (this.#o.persist) {
        const set = this.#o.bans.snapshot();
        this.#persisting = this.#persisting.then(() => this.#o.persist!(set)).catch(() => {});
      }
    }
    await this.#persisting;
  }
}
