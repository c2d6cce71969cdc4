/**
 * {@link BanList}: purges as Varnish bans. A ban says "every object whose URL matches, stored
 * before time T, is gone". Nothing is scanned when a ban arrives: each lookup asks
 * {@link BanList.banned} about the object it found, and an object older than a matching ban is
 * treated as absent and deleted then (`banned_store.ts`). So a prefix purge over millions of
 * objects costs one list entry.
 *
 * Matching (`storedAt` is the object's `requestTime`: a fetch that began before the purge is
 * covered even when its answer lands after it):
 *
 * ```
 * banned(url, storedAt) = storedAt < floor
 *                       ∨ ∃ url ban b:           b.pattern = url       ∧ storedAt < b.time
 *                       ∨ ∃ prefix/regex ban b:  b matches url         ∧ storedAt < b.time
 * ```
 *
 * Only bans newer than the object are tested (the list is kept in time order), so an object
 * stored after the last ban costs one comparison; an object that passed every newer ban is
 * remembered (until the next prefix or regex ban arrives) and not tested again.
 *
 * Retirement keeps the list bounded and every node's list the same (the rules depend only on the
 * bans and the clock):
 *
 * - a prefix or regex ban older than `lifetimeMs`, or beyond the newest `maxBans`, is removed and
 *   its time folded into the floor (`floor = max(floor, b.time)`): objects stored before it stay
 *   purged, and also every other object that old; the floor is the price of a bounded list.
 *   An object stored after the newest retired ban is never affected, so the lifetime is the longest
 *   an object stored before a purge may live.
 * - a url ban older than `lifetimeMs`, or beyond the newest `maxUrlBans`, is dropped: its object
 *   was deleted at once on every cache that acknowledged it, the entry only served caches that
 *   missed the purge and sync later.
 *
 * @module
 */
import type { Ban, BanKind, BanSet } from "../cluster/ban_codec.ts";
import { crc32c } from "../core/crc32c.ts";

/** Options of {@link BanList}. */
export interface BanListOptions {
  /** Age after which a ban is retired (ms). */
  lifetimeMs: number;
  /** Most prefix and regex bans kept. */
  maxBans: number;
  /** Most url bans kept. */
  maxUrlBans: number;
}

/** What a lookup found, as the ban list needs it. */
export interface BanSubject {
  /** The object's normalised URL. */
  primary: string;
  /** Its variant key (for the checked-object memo). */
  variant: string;
  /** When the request that stored it was sent, ms since the epoch. */
  requestTime: number;
}

interface Entry {
  ban: Ban;
  /** Compiled `regex` pattern. */
  re?: RegExp;
}

/** How many passed objects {@link BanList} remembers before starting over. */
const CHECKED_MEMO_SIZE = 100_000;

/**
 * Compiles a ban pattern into a matcher test.
 *
 * @throws {SyntaxError} for a `regex` ban whose pattern is not a regular expression
 */
export function compileBan(kind: BanKind, pattern: string): RegExp | undefined {
  if (kind !== "regex") return undefined;
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new SyntaxError(`Cannot compile purge regex "${pattern.slice(0, 200)}": ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** A node's (or worker's) ban list; see the module doc. */
export class BanList {
  readonly #o: BanListOptions;
  #floorMs = 0;
  readonly #ids = new Map<string, Entry>();
  /** url bans by pattern: the newest time. */
  readonly #urls = new Map<string, number>();
  /** url bans, oldest first. */
  readonly #urlList: Entry[] = [];
  /** prefix and regex bans, oldest first. */
  #others: Entry[] = [];
  /** Bumped when a prefix or regex ban is added: memo entries of older generations are stale. */
  #gen = 0;
  readonly #checked = new Map<string, number>();
  #digest?: string;

  /**
   * Creates an empty list.
   *
   * @param opts lifetime and count limits
   */
  constructor(opts: BanListOptions) {
    this.#o = opts;
  }

  /** Objects stored before this time count as purged (0: none). */
  get floorMs(): number {
    return this.#floorMs;
  }

  /** Bans held. */
  get size(): number {
    return this.#ids.size;
  }

  /** True when nothing can be banned (lookups skip the list). */
  get empty(): boolean {
    return this.#ids.size === 0 && this.#floorMs === 0;
  }

  /** Whether a ban with this id is held. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /**
   * Adds a ban (ignored when its id is known, or when retirement would remove it at once).
   *
   * @param now the clock, for retirement
   * @returns true when the list changed
   * @throws {SyntaxError} for a regex ban whose pattern does not compile
   */
  add(ban: Ban, now: number = Date.now()): boolean {
    if (this.#ids.has(ban.id)) return false;
    const e: Entry = { ban, re: compileBan(ban.kind, ban.pattern) };
    this.#ids.set(ban.id, e);
    if (ban.kind === "url") {
      this.#urls.set(ban.pattern, Math.max(this.#urls.get(ban.pattern) ?? 0, ban.timeMs));
      insertByTime(this.#urlList, e);
    } else {
      insertByTime(this.#others, e);
      this.#gen++;
    }
    this.#digest = undefined;
    this.retire(now);
    return this.#ids.has(ban.id);
  }

  /**
   * Merges another node's list: its floor (the higher wins) and its bans; bans that do not compile
   * are skipped.
   *
   * @returns the bans that were new here
   */
  merge(set: BanSet, now: number = Date.now()): Ban[] {
    const added: Ban[] = [];
    if (set.floorMs > this.#floorMs) {
      this.#floorMs = set.floorMs;
      this.#digest = undefined;
    }
    for (const b of set.bans) {
      try {
        if (this.add(b, now)) added.push(b);
      } catch { /* a pattern this node cannot compile: the sender's problem, never ours */ }
    }
    this.retire(now);
    return added;
  }

  /**
   * Whether an object is purged by the floor or a ban newer than it.
   *
   * @param o the object's URL, variant and request time
   */
  banned(o: BanSubject): boolean {
    const t = o.requestTime;
    if (t < this.#floorMs) return true;
    const u = this.#urls.get(o.primary);
    if (u !== undefined && t < u) return true;
    const others = this.#others;
    if (others.length === 0 || others[others.length - 1].ban.timeMs <= t) return false;
    const memoKey = `${o.primary}\0${o.variant}\0${t}`;
    if (this.#checked.get(memoKey) === this.#gen) return false;
    for (let i = others.length - 1; i >= 0 && others[i].ban.timeMs > t; i--) {
      const e = others[i];
      if (e.re ? e.re.test(o.primary) : o.primary.startsWith(e.ban.pattern)) {
        this.#checked.delete(memoKey);
        return true;
      }
    }
    if (this.#checked.size >= CHECKED_MEMO_SIZE) this.#checked.clear();
    this.#checked.set(memoKey, this.#gen);
    return false;
  }

  /**
   * Retires bans past the lifetime or the count limits (see the module doc).
   *
   * @returns how many were removed
   */
  retire(now: number = Date.now()): number {
    const oldest = now - this.#o.lifetimeMs;
    let n = 0;
    while (
      this.#others.length > 0 && (this.#others.length > this.#o.maxBans || this.#others[0].ban.timeMs < oldest)
    ) {
      const e = this.#others.shift()!;
      this.#ids.delete(e.ban.id);
      this.#floorMs = Math.max(this.#floorMs, e.ban.timeMs);
      n++;
    }
    const urls = this.#urlList;
    while (urls.length > 0 && (urls.length > this.#o.maxUrlBans || urls[0].ban.timeMs < oldest)) {
      const e = urls.shift()!;
      this.#ids.delete(e.ban.id);
      // The map holds the newest time of the pattern: only that ban's removal clears it.
      if (this.#urls.get(e.ban.pattern) === e.ban.timeMs) this.#urls.delete(e.ban.pattern);
      n++;
    }
    if (n) this.#digest = undefined;
    return n;
  }

  /** The floor and every ban, oldest first. */
  snapshot(): BanSet {
    const bans = [...this.#ids.values()].map((e) => e.ban).sort((a, b) => a.timeMs - b.timeMs || cmp(a.id, b.id));
    return { floorMs: this.#floorMs, bans };
  }

  /**
   * A short digest of the floor and the ban ids (16 hex digits): two nodes with the same digest
   * hold the same list. Gossiped in the node record so nodes notice a missed purge.
   */
  digest(): string {
    if (this.#digest !== undefined) return this.#digest;
    const ids = [...this.#ids.keys()].sort(cmp);
    const text = `${this.#floorMs}\n${ids.join("\n")}`;
    const bytes = new TextEncoder().encode(text);
    const a = crc32c(bytes);
    const b = crc32c(bytes, a ^ 0x5bd1e995);
    this.#digest = this.empty ? "" : a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
    return this.#digest;
  }
}

/** Inserts in time order; usually the newest, so it goes at the end (a late one from sync goes to its place). */
function insertByTime(list: Entry[], e: Entry): void {
  let i = list.length;
  while (i > 0 && list[i - 1].ban.timeMs > e.ban.timeMs) i--;
  list.splice(i, 0, e);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
