/**
 * A rock cache directory (Squid's `cache_dir rock`, Traffic Server's cyclic store): small objects
 * packed into the slots of one preallocated file (`slot_format.ts`), so storing an object costs
 * no inode, no temporary file and no rename, and a hit costs no open/close.
 *
 * ```text
 * DIR/LOCK         instance lock shared by the workers (../dir_lock.ts)
 * DIR/rock.slots   the slots (rock_file.ts), sparse, created at its full size
 * DIR/rock.stat    objects and bytes, written by the evicting process for the other workers
 * ```
 *
 * Lookup: the key's set (from the primary hash) has `ways` slots; one `pread` of the set's table
 * (ways × 64 bytes) finds the candidates, one `pread` of the record reads the object, whose CRC
 * and keys are checked before a byte is served. `variants()` reads the table and the records of
 * the URL's variants, and keeps the object read for the `get()` of the same lookup, so a hit is
 * two `pread`s. A miss is one. The record is read into a recycled read slab after 256 free bytes
 * (`../_slab_pool.ts`): the body is a view of it, and the free bytes with the entry header block
 * before the body are the object's headroom, where the response head is written so head and body
 * go out in one write; the entry header block is decoded through a memo per slot
 * (`../_header_memo.ts`: the same bytes give the header decoded before).
 *
 * Store: the writer buffers the body (at most one slot) and at commit picks a way of the set
 * (the key's own, else an empty one, else the expired one stored first, else the one stored
 * first: per-set FIFO, like Traffic Server's cyclic store; hits write nothing, so the eviction
 * policy option does not apply), encodes the record into one reused slot-sized buffer (entry
 * header block, then the writer's chunks; one CRC pass over the body), writes the record, then the
 * header: two `pwrite`s. The way's old
 * header is not emptied first: until the new header lands it names the old record's length and
 * CRC, which the new (or half-written) record fails, so a reader meanwhile gets a miss (and may
 * take the way for damaged and clear it: one more miss), never the new bytes under the old header
 * nor the old bytes under the new one.
 *
 * Workers: every process of an instance opens the file and reads and writes it with positioned
 * system calls; there is no index to share and no evicting process to coordinate, since the
 * slot headers are the index and replacement is decided per set by whoever writes. Two workers
 * writing one way at once, a crash or a failed write mid-record leave at worst a way whose
 * record fails its CRC (or an empty way): a miss, never wrong bytes. A record that fails its CRC
 * while its header stays the same across two reads is damaged: its header is cleared and counted.
 *
 * Large objects: when an object of a key goes to the ufs directory beside this one (too large
 * for a slot), {@link RockDir.markInUfs} writes an "in ufs" marker (a slot header without record)
 * into the key's way, replacing any rock copy. A lookup whose newest header for the key is such
 * a marker answers "in ufs" ({@link RockDir.locate}), and only then does the caller probe the ufs
 * directory: a miss costs no ufs probe. Markers live in the shared file, so every worker sees
 * every worker's; a marker evicted by the set's FIFO makes its ufs object unreachable (a miss,
 * the object is replaced in ufs when stored again), never stale: a marker is written only after
 * the ufs object it announces is committed, and storing the key in rock replaces it.
 *
 * Purges: exact (`delete()`) clears the slot headers of the key; prefix and regex purges are
 * bans (`../../../ban_list.ts`) checked on lookup against the stored request time, as for every
 * store. The rock file needs no rebuild after a restart or kill -9: its headers are its index.
 *
 * @module
 */
import { getLogger } from "../../../../core/log.ts";
import type { ObjectKey, Store, StoredMeta, StoredObject, StoreStats, StoreWriter, VariantsOpts } from "../../store.ts";
import { acquireDirLock, type DirLock, processInstanceId } from "../dir_lock.ts";
import { isNoSpace, StoreWriteError } from "../_disk_writer.ts";
import type { CacheDirStatus } from "../cache_dir.ts";
import { decodeEntryHeader } from "../entry_format.ts";
import { WriteFailures } from "../_write_failures.ts";
import { HeaderMemo } from "../_header_memo.ts";
import { bytesBodyStream } from "../_body_stream.ts";
import { SlabPool } from "../_slab_pool.ts";
import * as m from "../metrics.ts";
import { RockFile } from "./rock_file.ts";
import { RockWriter } from "./rock_writer.ts";
import {
  decodeRecord,
  decodeSlotHeader,
  encodeRecord,
  encodeSlotHeader,
  RockFormatError,
  type RockGeometry,
  rockGeometry,
  type RockKeyHash,
  rockKeyHash,
  setOf,
  SLOT_HEADER_BYTES,
  type SlotHeader,
  slotMayHold,
  slotMayHoldPrimary,
  ufsMarker,
} from "./slot_format.ts";
import { crc32c } from "../crc32c.ts";

const log = getLogger("cache.store.disk");

/** What {@link RockDir.locate} answers when the key's object is in the ufs directory. */
export const IN_UFS = "in-ufs";

/** Default slot size: Squid rock's default slot-size (16 KiB). */
export const DEFAULT_SLOT_BYTES = 16 * 1024;
/** Default ways per set: a lookup reads 8 × 64 bytes of table. */
export const DEFAULT_WAYS = 8;

/** How long an object read by `variants()` waits for the `get()` of the same lookup, ms. */
const STASH_MS = 50;
/** At most this many objects wait in the lookup stash (see cache_dir.ts). */
const STASH_MAX = 32;
/** How long "nothing stored for this URL" is believed without reading again, ms (see cache_dir.ts). */
const ABSENT_MS = 20;
/** Hashes of plain URLs remembered, to skip hashing the URL again on each lookup. */
const HASH_MEMO_MAX = 50_000;
/** Read slabs, shared by consecutive lookups; bodies are views into them (see `../_slab_pool.ts`). */
const SLAB_BYTES = 1024 * 1024;
/** Released read slabs kept for reuse per directory (see cache_dir.ts). */
const FREE_SLABS = 8;
/**
 * Bytes left free before each record read: with the record's entry header block they are the
 * object's headroom (`StoredObject.takeHeadroom`), where the sender writes the response head to
 * send head and body in one write without copying the body (as cache_dir.ts does).
 */
const HEAD_ROOM = 256;

/** Options of {@link RockDir.open}. */
export interface RockDirOptions {
  /** The directory; created if missing. */
  path: string;
  /** Size of the rock file in bytes (whole sets of `ways` slots fit in it). */
  maxBytes: number;
  /** Bytes per slot: the largest record (entry header + body) stored (default 16 KiB). */
  slotBytes?: number;
  /** Slots per set (default 8). */
  ways?: number;
  /** Instance id shared by the workers of one cache (default: this process's). */
  instance?: string;
  /** Pid whose liveness keeps the lock (default this process). */
  ownerPid?: number;
  /** Whether this process counts objects for `/status` (exactly one per instance; default true). */
  evictor?: boolean;
  /** How long storing pauses after ENOSPC, ms (default 5000). */
  noSpaceBackoffMs?: number;
  /** How often the evicting process recounts the slots in use, ms (default 60000). */
  scanIntervalMs?: number;
  /** Where bodies too large for a slot go (a ufs directory's writer); absent: they are not stored. */
  overflow?: (meta: StoredMeta) => StoreWriter | Promise<StoreWriter>;
}

type RockSettings = Required<Omit<RockDirOptions, "path" | "slotBytes" | "ways" | "overflow">>;

interface PlainHash extends RockKeyHash {
  absentAt: number;
}

interface Found {
  set: number;
  way: number;
  header: SlotHeader;
}

/** A rock directory; see the module doc. Open with {@link RockDir.open}. */
export class RockDir implements Store {
  /** `rock:<path>`. */
  readonly name: string;
  /** The directory path. */
  readonly path: string;
  /** Slot size in bytes: records (entry header + body) up to it are stored. */
  readonly slotBytes: number;
  readonly #g: RockGeometry;
  readonly #file: RockFile;
  readonly #lock: DirLock;
  readonly #o: RockSettings;
  readonly #overflow: RockDirOptions["overflow"];
  readonly #table: Uint8Array;
  readonly #hdr = new Uint8Array(SLOT_HEADER_BYTES);
  /** Records are encoded here (stores are synchronous: one at a time per process). */
  readonly #rec: Uint8Array;
  readonly #plain = new Map<string, PlainHash>();
  readonly #stash = new Map<string, { obj: StoredObject; at: number }>();
  readonly #slabs: SlabPool;
  /** Decoded entry header blocks by slot, so a hit on a record read before decodes nothing. */
  readonly #headers = new HeaderMemo();
  readonly #failures: WriteFailures;
  #used = { slots: 0, scannedAt: 0 };
  #shared = { objects: 0, bytes: 0 };
  #stats = { hits: 0, misses: 0, evictions: 0, damaged: 0 };
  readonly #m: { hits: { inc(): void }; misses: { inc(): void }; writes: { inc(): void } };
  readonly #abort = new AbortController();
  #timer: ReturnType<typeof setInterval> | undefined;
  #background: Promise<void> = Promise.resolve();
  #state: CacheDirStatus["state"] = "ready";

  private constructor(
    path: string,
    file: RockFile,
    lock: DirLock,
    o: RockSettings,
    overflow: RockDirOptions["overflow"],
  ) {
    this.path = path;
    this.#failures = new WriteFailures(path, o.noSpaceBackoffMs);
    this.name = `rock:${path}`;
    this.#file = file;
    this.#g = file.header;
    this.slotBytes = file.header.slotBytes;
    this.#lock = lock;
    this.#o = o;
    this.#overflow = overflow;
    this.#table = new Uint8Array(this.#g.ways * SLOT_HEADER_BYTES);
    this.#rec = new Uint8Array(this.#g.slotBytes);
    this.#slabs = new SlabPool(Math.max(SLAB_BYTES, HEAD_ROOM + this.#g.slotBytes), FREE_SLABS);
    this.#m = {
      hits: m.diskHits.labels({ dir: path }),
      misses: m.diskMisses.labels({ dir: path }),
      writes: m.diskWrites.labels({ dir: path }),
    };
  }

  /**
   * Opens (creating if needed) a rock directory: takes or joins its lock and opens its file (the
   * first process of the instance creates or, when the geometry changed, empties it).
   *
   * @throws {RangeError} when the sizes give no valid geometry
   * @throws {Error} naming the directory when it cannot be created, is not writable or is locked
   */
  static async open(opts: RockDirOptions): Promise<RockDir> {
    const g = rockGeometry(opts.maxBytes, {
      slotBytes: opts.slotBytes ?? DEFAULT_SLOT_BYTES,
      ways: opts.ways ?? DEFAULT_WAYS,
    });
    const o: RockSettings = {
      maxBytes: opts.maxBytes,
      instance: opts.instance ?? processInstanceId(),
      ownerPid: opts.ownerPid ?? Deno.pid,
      evictor: opts.evictor ?? true,
      noSpaceBackoffMs: opts.noSpaceBackoffMs ?? 5000,
      scanIntervalMs: opts.scanIntervalMs ?? 60_000,
    };
    const path = opts.path.replace(/\/+$/, "") || "/";
    const fail = (what: string, e: unknown): never => {
      throw new Error(`Cannot use cache directory "${path}": ${what}: ${(e as Error).message}`, { cause: e });
    };
    const before = await Deno.stat(path).catch(() => undefined);
    if (before && !before.isDirectory) throw new Error(`Cannot use cache directory "${path}": it is not a directory`);
    if (!before) await Deno.mkdir(path, { recursive: true }).catch((e) => fail("cannot create it", e));
    const lock = await acquireDirLock(path, { instance: o.instance, ownerPid: o.ownerPid });
    let file: RockFile;
    try {
      const r = RockFile.open(path, g, { create: lock.taker });
      file = r.file;
      if (r.reset) log.info("Rock cache directory file created empty", { dir: path, reason: r.reset });
      if (lock.taker) await lock.markReady();
    } catch (e) {
      await lock.release();
      return fail("cannot open its rock file", e);
    }
    const dir = new RockDir(path, file, lock, o, opts.overflow);
    dir.#start();
    return dir;
  }

  #start(): void {
    if (this.#o.evictor) {
      this.#state = "loading";
      this.#background = this.#scan(this.#abort.signal).catch((e) =>
        log.warn("Cannot count rock slots", { dir: this.path, error: e })
      ).finally(() => this.#state = "ready");
    }
    this.#timer = setInterval(() => this.#tick(), 1000);
    log.info("Cache directory opened", {
      dir: this.path,
      type: "rock",
      instance: this.#o.instance,
      sets: this.#g.sets,
      ways: this.#g.ways,
      slotBytes: this.#g.slotBytes,
    });
  }

  #tick(): void {
    const now = Date.now();
    for (const [k, s] of this.#stash) if (now - s.at > STASH_MS) this.#unstash(k);
    if (this.#o.evictor) {
      if (this.#state === "ready" && now - this.#used.scannedAt >= this.#o.scanIntervalMs) {
        this.#state = "loading";
        this.#background = this.#scan(this.#abort.signal).catch((e) =>
          log.warn("Cannot count rock slots", { dir: this.path, error: e })
        ).finally(() => this.#state = "ready");
      }
      m.diskObjects.set({ dir: this.path }, this.#used.slots);
      m.diskBytes.set({ dir: this.path }, this.#used.slots * this.#g.slotBytes);
    } else {
      Deno.readTextFile(`${this.path}/rock.stat`).then((s) => this.#shared = JSON.parse(s)).catch(() => {});
    }
  }

  /** Counts the slots in use, one 1 MiB read of the directory per macrotask, and publishes the count. */
  async #scan(signal: AbortSignal): Promise<void> {
    let slots = 0;
    for await (const { table, n } of this.#tables(signal)) {
      for (let off = 0; off + SLOT_HEADER_BYTES <= n; off += SLOT_HEADER_BYTES) {
        const h = decodeSlotHeader(table, off);
        if (h && !h.inUfs) slots++;
      }
    }
    if (signal.aborted) return;
    this.#used = { slots, scannedAt: Date.now() };
    const stat = { objects: slots, bytes: slots * this.#g.slotBytes };
    await Deno.writeTextFile(`${this.path}/rock.stat.tmp`, JSON.stringify(stat))
      .then(() => Deno.rename(`${this.path}/rock.stat.tmp`, `${this.path}/rock.stat`))
      .catch(() => {});
  }

  /**
   * The directory in chunks of whole sets (about 1 MiB), one read each, yielding to the event
   * loop between chunks; `first` is the first chunk's set number.
   */
  async *#tables(signal?: AbortSignal): AsyncIterable<{ first: number; table: Uint8Array; n: number }> {
    const perSet = this.#g.ways * SLOT_HEADER_BYTES;
    const setsPerChunk = Math.max(1, Math.floor((1 << 20) / perSet));
    const table = new Uint8Array(setsPerChunk * perSet);
    for (let first = 0; first < this.#g.sets; first += setsPerChunk) {
      if (signal?.aborted) return;
      const count = Math.min(setsPerChunk, this.#g.sets - first);
      const n = this.#file.readTables(first, count, table);
      yield { first, table, n };
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  // ---- lookups ----

  #hashOf(primary: string, variant: string): RockKeyHash {
    return variant === "" ? this.#plainOf(primary) : rockKeyHash(primary, variant);
  }

  #plainOf(primary: string): PlainHash {
    let h = this.#plain.get(primary);
    if (!h) {
      if (this.#plain.size >= HASH_MEMO_MAX) this.#plain.clear();
      this.#plain.set(primary, h = { ...rockKeyHash(primary, ""), absentAt: -Infinity });
    }
    return h;
  }

  /** Reads the table of a set into the scratch table; returns the valid bytes. */
  #readTable(set: number): number {
    return this.#file.readTable(set, this.#table);
  }

  /** The newest way holding the key's hashes, from the scratch table just read. */
  #newest(n: number, set: number, h: RockKeyHash): Found | undefined {
    let best: Found | undefined;
    for (let way = 0, off = 0; off + SLOT_HEADER_BYTES <= n; way++, off += SLOT_HEADER_BYTES) {
      if (!slotMayHold(this.#table, off, h)) continue;
      const header = decodeSlotHeader(this.#table, off);
      if (header && (!best || header.storedTime > best.header.storedTime)) best = { set, way, header };
    }
    return best;
  }

  /**
   * Reads and checks the record of a way; `undefined` when it is torn, damaged or not the key's.
   * The record goes into a read slab after {@link HEAD_ROOM} free bytes; the body is a view of it,
   * the free bytes and the entry header block before the body are its headroom, and `release`
   * gives the slab back (see `../_slab_pool.ts`). The entry header block is decoded through the
   * memo: the same bytes in the same slot give the header decoded before.
   */
  #readObject(f: Found, key?: ObjectKey): StoredObject | undefined {
    if (f.header.inUfs) return undefined;
    const len = f.header.recordBytes;
    if (len > this.#g.slotBytes) return this.#damaged(f, `record length ${len} exceeds the slot`);
    const room = this.#slabs.room(HEAD_ROOM + len);
    const into = room.subarray(HEAD_ROOM);
    const n = this.#file.readRecord(f.set, f.way, len, into);
    let rec;
    try {
      const slot = `${f.set}:${f.way}`;
      rec = decodeRecord(into.subarray(0, n), f.header, (block) => this.#headers.decode(slot, block));
    } catch (e) {
      if (e instanceof RockFormatError) return this.#damaged(f, e.message);
      throw e;
    }
    const meta = rec.entry.meta;
    if (key && (meta.primary !== key.primary || meta.variant !== key.variant)) return undefined;
    const release = this.#slabs.claim(room, HEAD_ROOM + len);
    let headroom = HEAD_ROOM + (len - rec.body.length);
    const body = rec.body;
    return {
      meta,
      body,
      tier: "disk",
      takeHeadroom: () => {
        const r = headroom;
        headroom = 0;
        return r;
      },
      release,
      openBody: (range) => bytesBodyStream(body, range),
    };
  }

  /**
   * A record failed its checks. If its slot header is still the one read (no writer touched the
   * way meanwhile), the record is damaged: the header is cleared and counted. Otherwise a writer
   * is replacing it: a plain miss.
   */
  #damaged(f: Found, reason: string): undefined {
    const now = new Uint8Array(SLOT_HEADER_BYTES);
    this.#file.readSlotHeader(f.set, f.way, now);
    const again = decodeSlotHeader(now);
    if (
      !again || again.recordCrc !== f.header.recordCrc || again.storedTime !== f.header.storedTime ||
      again.recordBytes !== f.header.recordBytes
    ) return undefined;
    try {
      this.#file.clearSlot(f.set, f.way);
    } catch { /* a failing disk: the next read finds it again */ }
    this.#stats.damaged++;
    m.diskDamaged.inc({ dir: this.path });
    log.warn("Cleared damaged rock slot", { dir: this.path, set: f.set, way: f.way, reason });
    return undefined;
  }

  #stashKey(primary: string, variant: string): string {
    return `${primary}\n${variant}`;
  }

  /** Drops a stashed object that no lookup took, giving its read slab back. */
  #unstash(k: string): void {
    const s = this.#stash.get(k);
    if (!s) return;
    this.#stash.delete(k);
    s.obj.release?.();
  }

  /**
   * The stored variants of a URL (one table read, then each variant's record, which is kept for
   * the `get()` of the same lookup). Always synchronous.
   */
  variants(primary: string, opts?: VariantsOpts): StoredMeta[] {
    return this.variantsAndUfs(primary, opts).metas;
  }

  /**
   * {@link RockDir.variants}, and whether an "in ufs" marker of the URL (any variant) is among
   * the set's headers, so the ufs directory may hold variants too.
   */
  variantsAndUfs(primary: string, opts?: VariantsOpts): { metas: StoredMeta[]; inUfs: boolean } {
    const p = this.#plainOf(primary);
    const now = Date.now();
    if (now - p.absentAt < ABSENT_MS && !opts?.recheck) return { metas: [], inUfs: false };
    const set = setOf(this.#g, p);
    const n = this.#readTable(set);
    const newest = new Map<number, Found>();
    for (let way = 0, off = 0; off + SLOT_HEADER_BYTES <= n; way++, off += SLOT_HEADER_BYTES) {
      if (!slotMayHoldPrimary(this.#table, off, p)) continue;
      const header = decodeSlotHeader(this.#table, off);
      if (!header) continue;
      const cur = newest.get(header.vh);
      if (!cur || header.storedTime > cur.header.storedTime) newest.set(header.vh, { set, way, header });
    }
    if (newest.size === 0) {
      p.absentAt = now;
      return { metas: [], inUfs: false };
    }
    const metas: StoredMeta[] = [];
    let inUfs = false;
    for (const f of newest.values()) {
      if (f.header.inUfs) {
        inUfs = true;
        continue;
      }
      const obj = this.#readObject(f);
      if (!obj || obj.meta.primary !== primary) continue;
      metas.push(obj.meta);
      if (this.#stash.size >= STASH_MAX) this.#unstash(this.#stash.keys().next().value!);
      const sk = this.#stashKey(primary, obj.meta.variant);
      this.#unstash(sk);
      this.#stash.set(sk, { obj, at: now });
    }
    return { metas, inUfs };
  }

  /**
   * Looks an object up without counting a miss (a {@link DiskStore} with rock and ufs directories
   * asks the ufs directory next); counts a hit.
   */
  find(key: ObjectKey): StoredObject | undefined {
    const r = this.locate(key);
    return r === IN_UFS ? undefined : r;
  }

  /**
   * {@link RockDir.find}, answering {@link IN_UFS} when the key's newest header is an "in ufs"
   * marker (the caller then asks the ufs directory; see the module doc).
   */
  locate(key: ObjectKey): StoredObject | typeof IN_UFS | undefined {
    const sk = this.#stashKey(key.primary, key.variant);
    const stashed = this.#stash.get(sk);
    let obj: StoredObject | undefined;
    if (stashed) {
      this.#stash.delete(sk);
      if (Date.now() - stashed.at <= STASH_MS) obj = stashed.obj;
      else stashed.obj.release?.();
    }
    if (!obj) {
      const h = this.#hashOf(key.primary, key.variant);
      const set = setOf(this.#g, h);
      const f = this.#newest(this.#readTable(set), set, h);
      if (f?.header.inUfs) return IN_UFS;
      if (f) obj = this.#readObject(f, key);
    }
    if (obj) {
      this.#stats.hits++;
      this.#m.hits.inc();
    }
    return obj;
  }

  /** Counts a miss (see {@link RockDir.find}). */
  countMiss(): void {
    this.#stats.misses++;
    this.#m.misses.inc();
  }

  /** Looks an object up; counts a hit or a miss. */
  get(key: ObjectKey): StoredObject | undefined {
    const obj = this.find(key);
    if (!obj) this.countMiss();
    return obj;
  }

  /** Whether a record of `bodyBytes` with small headers may fit a slot (writers check exactly). */
  fits(bodyBytes: number): boolean {
    return bodyBytes >= 0 && bodyBytes <= this.#maxBody();
  }

  #maxBody(): number {
    return this.#g.slotBytes - 128; // the smallest entry header (fixed part, CRC, a short URL)
  }

  // ---- writes ----

  /** Starts storing an object; see `rock_writer.ts`. */
  openWrite(meta: StoredMeta): StoreWriter {
    if (this.#failures.paused && !(meta.bodyBytes > this.#maxBody() && this.#overflow)) {
      return this.#failures.refusingWriter();
    }
    return new RockWriter({
      maxBodyBytes: this.#maxBody(),
      store: (meta, body) => this.#store(meta, body),
      overflow: this.#overflow,
      failed: (reason, e) => this.#failures.failed(reason, e),
    }, meta);
  }

  /**
   * Writes a whole object into a way of its set; false when the record does not fit a slot, else
   * whether it replaced an "in ufs" marker of the key (the ufs copy is then older: delete it).
   */
  #store(meta: StoredMeta, body: readonly Uint8Array[]): false | { replacedUfs: boolean } {
    const h = this.#hashOf(meta.primary, meta.variant);
    const { record, header } = encodeRecord(meta, body, Date.now(), h, this.#rec);
    if (record.length > this.#g.slotBytes) return false;
    const replacedUfs = this.#put(h, record, header);
    const p = this.#plainOf(meta.primary);
    p.absentAt = -Infinity;
    this.#unstash(this.#stashKey(meta.primary, meta.variant));
    this.#m.writes.inc();
    return { replacedUfs };
  }

  /**
   * Writes an "in ufs" marker for the key of an object just committed to the ufs directory,
   * replacing the key's rock copy if any (see the module doc).
   *
   * @throws {StoreWriteError} when the header cannot be written
   */
  markInUfs(meta: StoredMeta): void {
    const h = this.#hashOf(meta.primary, meta.variant);
    this.#put(h, undefined, ufsMarker(h, Date.now(), meta));
    this.#plainOf(meta.primary).absentAt = -Infinity;
    this.#unstash(this.#stashKey(meta.primary, meta.variant));
  }

  /**
   * Chooses a way, writes the record (none for a marker), then the header (see the module doc);
   * returns whether the way held an "in ufs" marker of the key.
   */
  #put(h: RockKeyHash, record: Uint8Array | undefined, header: SlotHeader, way?: number): boolean {
    const set = setOf(this.#g, h);
    let ownInUfs = false;
    if (way === undefined) ({ way, ownInUfs } = this.#victim(set, h, header.storedTime, !header.inUfs));
    encodeSlotHeader(header, this.#hdr);
    try {
      if (record) this.#file.writeRecord(set, way, record);
      this.#file.writeSlotHeader(set, way, this.#hdr);
    } catch (e) {
      try {
        this.#file.clearSlot(set, way);
      } catch { /* the disk refuses even that: the record fails its CRC anyway */ }
      const reason = isNoSpace(e) ? "nospace" : "io";
      this.#failures.failed(reason, e);
      throw new StoreWriteError(`Cannot store object in "${this.path}": ${(e as Error).message}`, reason, { cause: e });
    }
    this.#failures.stored();
    return ownInUfs;
  }

  /**
   * The way a new object of key `h` goes to: the key's own (other copies of the key are cleared),
   * else an empty way, else the expired way stored first, else the way stored first.
   */
  #victim(set: number, h: RockKeyHash, now: number, counts: boolean): { way: number; ownInUfs: boolean } {
    const n = this.#readTable(set);
    let own = -1, empty = -1, expired = -1, oldest = -1, ownInUfs = false;
    let expiredAt = Infinity, oldestAt = Infinity;
    for (let way = 0, off = 0; off + SLOT_HEADER_BYTES <= n; way++, off += SLOT_HEADER_BYTES) {
      const s = decodeSlotHeader(this.#table, off);
      if (!s) {
        if (empty < 0) empty = way;
        continue;
      }
      if (s.phLo === h.phLo && s.phHi === h.phHi && s.vh === h.vh) {
        if (own < 0) [own, ownInUfs] = [way, s.inUfs];
        else {
          this.#file.clearSlot(set, way);
          if (this.#o.evictor && !s.inUfs) this.#used.slots = Math.max(0, this.#used.slots - 1);
        }
        continue;
      }
      if (s.expiresAt <= now && s.storedTime < expiredAt) [expired, expiredAt] = [way, s.storedTime];
      if (s.storedTime < oldestAt) [oldest, oldestAt] = [way, s.storedTime];
    }
    if (own >= 0) return { way: own, ownInUfs };
    if (empty >= 0) {
      if (this.#o.evictor && counts) this.#used.slots++;
      return { way: empty, ownInUfs };
    }
    this.#stats.evictions++;
    m.diskEvictions.inc({ dir: this.path }, 1);
    return { way: expired >= 0 ? expired : Math.max(0, oldest), ownInUfs };
  }

  /** Rewrites the metadata of a stored object in its own way; false when absent (or no longer fitting). */
  updateMeta(meta: StoredMeta): Promise<boolean> {
    const h = this.#hashOf(meta.primary, meta.variant);
    const set = setOf(this.#g, h);
    const f = this.#newest(this.#readTable(set), set, h);
    const obj = f && this.#readObject(f, meta);
    if (!f || !obj) return Promise.resolve(false);
    const body = obj.body!; // a view of the read slab, copied into the record buffer
    const { record, header } = encodeRecord({ ...meta, bodyBytes: body.length }, body, Date.now(), h, this.#rec);
    obj.release?.();
    this.#unstash(this.#stashKey(meta.primary, meta.variant));
    if (record.length > this.#g.slotBytes) {
      this.#file.clearSlot(set, f.way);
      return Promise.resolve(false);
    }
    try {
      this.#put(h, record, header, f.way);
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve(true);
  }

  /** Deletes one variant, or every variant of `primary`; returns how many objects were cleared. */
  delete(primary: string, variant?: string): Promise<number> {
    const p = this.#plainOf(primary);
    const set = setOf(this.#g, p);
    const vh = variant === undefined ? undefined : this.#hashOf(primary, variant).vh;
    const n = this.#readTable(set);
    let count = 0;
    for (let way = 0, off = 0; off + SLOT_HEADER_BYTES <= n; way++, off += SLOT_HEADER_BYTES) {
      if (!slotMayHoldPrimary(this.#table, off, p)) continue;
      const s = decodeSlotHeader(this.#table, off);
      if (!s || (vh !== undefined && s.vh !== vh)) continue;
      this.#file.clearSlot(set, way);
      if (!s.inUfs) count++;
    }
    for (const k of [...this.#stash.keys()]) {
      if (k.startsWith(primary + "\n") && (variant === undefined || k === this.#stashKey(primary, variant))) {
        this.#unstash(k);
      }
    }
    if (this.#o.evictor) this.#used.slots = Math.max(0, this.#used.slots - count);
    return Promise.resolve(count);
  }

  /** Iterates the metadata of every stored object (a scan of the whole directory). */
  async *entries(): AsyncIterable<StoredMeta> {
    const perSet = this.#g.ways * SLOT_HEADER_BYTES;
    for await (const { first, table, n } of this.#tables()) {
      for (let off = 0; off + SLOT_HEADER_BYTES <= n; off += SLOT_HEADER_BYTES) {
        const header = decodeSlotHeader(table, off);
        if (!header || header.inUfs) continue;
        const set = first + Math.floor(off / perSet);
        const way = (off % perSet) / SLOT_HEADER_BYTES;
        const rec = new Uint8Array(header.recordBytes);
        const got = this.#file.readRecord(set, way, rec.length, rec);
        if (got !== rec.length || crc32c(rec) !== header.recordCrc) continue;
        try {
          yield decodeEntryHeader(rec).meta;
        } catch { /* torn meanwhile */ }
      }
    }
  }

  /** Counters; objects and bytes (slots in use × slot size) only in the evicting process. */
  stats(): StoreStats {
    const ev = this.#o.evictor;
    return {
      objects: ev ? this.#used.slots : 0,
      bytes: ev ? this.#used.slots * this.#g.slotBytes : 0,
      maxBytes: ev ? this.#g.sets * this.#g.ways * this.#g.slotBytes : 0,
      hits: this.#stats.hits,
      misses: this.#stats.misses,
      evictions: this.#stats.evictions,
      damaged: this.#stats.damaged,
      writeFailures: { ...this.#failures.counts },
    };
  }

  /** State for `/status` (the same shape as a ufs directory's; `policy` is `fifo-per-set`). */
  status(): CacheDirStatus {
    const ev = this.#o.evictor;
    return {
      path: this.path,
      state: this.#state,
      instance: this.#o.instance,
      evictor: ev,
      policy: "fifo-per-set",
      objects: ev ? this.#used.slots : this.#shared.objects,
      bytes: ev ? this.#used.slots * this.#g.slotBytes : this.#shared.bytes,
      maxBytes: this.#g.sets * this.#g.ways * this.#g.slotBytes,
      noSpace: this.#failures.paused,
    };
  }

  /** Resolves when the slot count has been taken (for tests and tools). */
  whenReady(): Promise<void> {
    return this.#background;
  }

  /** Stops the background count, closes the file and releases the lock. */
  async close(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#timer);
    await this.#background;
    for (const k of [...this.#stash.keys()]) this.#unstash(k);
    this.#headers.clear();
    this.#file.close();
    await this.#lock.release();
    log.info("Cache directory closed", { dir: this.path });
  }
}
