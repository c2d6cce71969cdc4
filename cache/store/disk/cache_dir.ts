/**
 * One cache directory (Squid's `cache_dir ufs DIR MB L1 L2`): object files under L1/L2
 * subdirectories, an index in Deno KV, a lock shared by the worker processes of one instance,
 * and eviction between low and high watermarks.
 *
 * Layout:
 *
 * ```text
 * DIR/LOCK              instance lock (dir_lock.ts)
 * DIR/GENERATION        random id written when the directory is first used
 * DIR/index.kv[-wal]    the Deno KV index (disk_index.ts)
 * DIR/tmp/              objects being written; emptied at start
 * DIR/0A/3F/<ph>-<vh>   object files (entry_format.ts), path from _paths.ts
 * DIR/0A/3F/<ph>-vary   empty marker: the URL has Vary'd variants (ask the index for them)
 * ```
 *
 * Several processes (the cache's workers, SO_REUSEPORT) open one directory. Lookups go straight
 * to the file at the hashed path, so every worker sees every other worker's objects at once;
 * writes are atomic renames; the index in KV is a hint kept by batched writes. Eviction is done
 * by one process only, the one opened with `evictor: true` (worker 0): the others report what
 * they store, hit and delete through a journal in KV, which the evictor replays into its policy.
 * So the policy sees every access, and two processes never pick victims concurrently.
 *
 * Start-up: the first process of an instance takes the lock, empties `tmp/` and checks the
 * index. When the KV file is missing, belongs to another directory (its `generation` or the
 * directory's device/inode differ: a copied directory or a foreign index) or the previous
 * instance died holding the lock (its last batched index writes may be lost), the index is
 * emptied and rebuilt by scanning the object files in the background while the directory serves;
 * progress goes to the log and to {@link CacheDir.status}.
 *
 * @module
 */
import { existsSync as pathExists } from "node:fs";
import { getLogger } from "../../../core/log.ts";
import { createPolicy, type SizedEvictionPolicy } from "../eviction/mod.ts";
import type { ObjectKey, Store, StoredMeta, StoredObject, StoreStats, StoreWriter, VariantsOpts } from "../store.ts";
import { acquireDirLock, type DirLock, processInstanceId } from "./dir_lock.ts";
import { DiskIndex, type IndexRecord, type JournalEvent } from "./disk_index.ts";
import { crc32c } from "./crc32c.ts";
import {
  BODY_BLOCK_BYTES,
  encodeBlockTable,
  encodeEntryHeader,
  ENTRY_PEEK_BYTES,
  EntryDecodeError,
  type EntryHeader,
  entryHeaderLength,
  insanity,
  validatorsOf,
} from "./entry_format.ts";
import { DiskWriter, writeAll } from "./_disk_writer.ts";
import { bytesBodyStream, fileBodyStream, readEntryHeader, readFull, readFullSync } from "./_body_stream.ts";
import { hash128, objectName, objectRelPath, parseObjectName, subdirOf } from "./_paths.ts";
import { OpenFiles } from "./_open_files.ts";
import { fileMapsAvailable, mapFile } from "./_file_map.ts";
import { HeaderMemo } from "./_header_memo.ts";
import { SlabPool } from "./_slab_pool.ts";
import { type ReadBuffer, ReadBuffers } from "./_read_buffers.ts";
import { WriteFailures } from "./_write_failures.ts";
import * as m from "./metrics.ts";

const log = getLogger("cache.store.disk");

/** How long a looked-up streaming body's open descriptor waits for its stream before it is closed, ms. */
const STREAM_FD_HOLD_MS = 10_000;

/**
 * Files up to this size are read whole on lookup with one synchronous read (and their body
 * checked at once); larger bodies stream. 256 KiB covers most web objects while a sync read of
 * it from the page cache stays in the tens of microseconds.
 */
export const SMALL_READ_BYTES = 256 * 1024;

/** Read buffer of header-only lookups (synchronous, so one per isolate suffices). */
const SCRATCH = new Uint8Array(ENTRY_PEEK_BYTES);

/**
 * Whole-object reads go into a slab shared by consecutive lookups, and bodies are views into it:
 * allocating a buffer per hit (or copying the body out of a scratch buffer) cost more than the
 * read itself (each new ArrayBuffer is zeroed and counted as external memory by the GC). A slab
 * is replaced when too little is left; one whose reads were all released (`StoredObject.release`,
 * after a hit's write) is reused, any other is freed by the GC once no body view refers to it
 * (`_slab_pool.ts`), so a body kept long-term (a memory tier) should be copied.
 */
const SLAB_BYTES = 1024 * 1024;
/**
 * Released slabs kept for reuse. Hits in flight hold slabs until their writes complete: 64
 * connections reading 100 KiB objects hold 7–8 slabs, and with fewer kept the rest were dropped
 * and allocated again (6 % of such a hit's CPU). At most this many MiB stay allocated when idle.
 */
const FREE_SLABS = 16;
/** The read slabs of this isolate (lookups are synchronous, so one pool serves every directory). */
const slabs = new SlabPool(SLAB_BYTES, FREE_SLABS);
/**
 * Read buffers of kept files (size known before the read), per power-of-two size class, reused
 * most recently released first (`_read_buffers.ts`): the largest class holds a read of
 * SMALL_READ_BYTES with its header block and headroom; as many bytes as the slabs kept are free.
 */
const readBuffers = new ReadBuffers(2 * SMALL_READ_BYTES, FREE_SLABS * SLAB_BYTES);

/**
 * Bytes left free in the slab before each whole-object read. With the header block that precedes
 * the body in the buffer they are the object's headroom (`StoredObject.takeHeadroom`): the sender
 * writes the response head there and sends head and body in one write, without copying the body.
 * 256 bytes plus the stored header block hold the response head built from the same fields.
 */
const HEAD_ROOM = 256;

/**
 * Bodies up to this size have their CRC-32C checked on every read: checking 16 KiB costs about
 * as much as the `fstat()` that would tell whether the file changed since it was last checked.
 */
export const ALWAYS_VERIFY_BYTES = 16 * 1024;

/** File versions remembered as verified (name -> identity); the map is emptied when full. */
const MAX_VERIFIED = 100_000;

/**
 * How long an object read by `variants()` is kept for the `get()` of the same request, ms. A
 * lookup is `variants()` then `get()` of the chosen variant; handing the object read by the first
 * to the second halves the file reads of a hit without keeping bodies beyond the request.
 */
const STASH_MS = 50;
/**
 * At most this many objects wait in the lookup stash. `get()` follows `variants()` within the
 * same task, so few wait at once; lookups without a `get()` (ICP queries) push the oldest out,
 * and the bound also caps the read slabs that waiting bodies keep alive.
 */
const STASH_MAX = 32;

/** Object names and paths of plain (non-Vary) URLs remembered, to skip hashing on each lookup. */
const NAME_MEMO_MAX = 50_000;

/**
 * Access records (last access, count) reach the KV index at most this often: they only order the
 * eviction policy after a restart, so losing some on a crash costs little, while rewriting a KV
 * record per hit cost a SQLite transaction (with fsync) per batch of hits.
 */
const ACCESS_FLUSH_MS = 30_000;
/** Workers that do not evict report hits to the evictor this often, counted per object. */
const TOUCH_JOURNAL_MS = 1_000;
/**
 * A synchronous object write slower than this switches writes to the thread pool for a while: a
 * file system journal stalled by fsyncs elsewhere. Lower values mistake a busy CPU (a preempted
 * write) for a stall and pay a thread-pool hop per file operation, which costs more than the
 * operation itself on the page cache.
 */
const SLOW_SYNC_WRITE_MS = 50;
/** How long writes stay asynchronous after a slow synchronous one, ms. */
const ASYNC_WRITES_MS = 5_000;

/** Options of {@link CacheDir.open}. */
export interface CacheDirOptions {
  /** The directory; created if missing. */
  path: string;
  /** Size limit in bytes. */
  maxBytes: number;
  /** First-level subdirectories (default 16). */
  l1?: number;
  /** Second-level subdirectories (default 256). */
  l2?: number;
  /** Eviction policy name (default `sieve`). */
  policy?: string;
  /** Evict down to this fraction of `maxBytes` (default 0.9). */
  lowWatermark?: number;
  /** Start evicting above this fraction (default 0.95). */
  highWatermark?: number;
  /** Largest body stored (default `maxBytes / 4`). */
  maxObjectBytes?: number;
  /**
   * Instance id shared by the workers of one cache. Default: this process's pid and start time,
   * which every worker thread of the process shares.
   */
  instance?: string;
  /** Pid whose liveness keeps the lock (the workers' parent; default this process). */
  ownerPid?: number;
  /**
   * Object files kept open for the next hit (see `_open_files.ts`; default 0: none). Only files
   * read whole on lookup (up to SMALL_READ_BYTES) are kept.
   */
  openFiles?: number;
  /**
   * Whether kept files are also mapped into memory, so their hits send the body from the page
   * cache without a read (see `_file_map.ts`). Default: when FFI is allowed (Linux, glibc).
   */
  mapFiles?: boolean;
  /** Whether this process evicts (exactly one per instance, e.g. worker 0; default true). */
  evictor?: boolean;
  /**
   * Index batch interval in ms (default 200): KV commits (each a SQLite transaction with an
   * fsync) happen at most this often. Lookups do not wait for them (see the module doc).
   */
  flushMs?: number;
  /** How long storing pauses after ENOSPC, ms (default 5000). */
  noSpaceBackoffMs?: number;
}

/** What `/status` shows for a cache directory. */
export interface CacheDirStatus {
  path: string;
  /** `loading` (reading the index), `rebuilding` (scanning files) or `ready`. */
  state: "loading" | "rebuilding" | "ready";
  instance: string;
  evictor: boolean;
  policy: string;
  objects: number;
  bytes: number;
  maxBytes: number;
  rebuild?: { scannedFiles: number; indexed: number; damaged: number; startedAt: string; elapsedMs: number };
  noSpace: boolean;
}

interface RebuildProgress {
  scannedFiles: number;
  indexed: number;
  damaged: number;
  startedAt: number;
  endedAt?: number;
}

/**
 * The object name and path of a URL's plain (variant `""`) object, and whether this process last
 * saw its file. Lookups of names not known to exist ask `existsSync()` (an op that answers a
 * boolean) before opening: a failed open throws, and building that error costs several times
 * the system call, on every miss.
 */
interface PlainName {
  name: string;
  path: string;
  known: boolean;
  /**
   * When `variants()` last found nothing stored for the URL (ms), so that the second lookup of
   * one request (a fast path tried first, then the general one) costs nothing: see ABSENT_MS.
   */
  absentAt: number;
}

/**
 * How long "nothing stored for this URL" is believed without looking again, ms. Objects this
 * process stores end it at once; one stored by another worker within this window is found by
 * the next lookup after it (at worst one extra origin fetch, as for two workers missing at once).
 */
const ABSENT_MS = 20;

function u32hex(): string {
  return crypto.getRandomValues(new Uint32Array(1))[0].toString(16);
}

/**
 * Removes temporary files of processes that are gone (a worker killed mid-write and restarted by
 * its parent; the instance's first process empties `tmp/` anyway). Names end in `.<pid>.<seq>`.
 */
async function removeDeadTempFiles(tmp: string): Promise<void> {
  for await (const e of Deno.readDir(tmp)) {
    const pid = Number(/\.(\d+)\.[0-9a-fx]+$/.exec(e.name)?.[1]);
    if (pid && pid !== Deno.pid && !(await exists(`/proc/${pid}`))) {
      await Deno.remove(`${tmp}/${e.name}`).catch(() => {});
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** A cache directory; see the module doc. Open with {@link CacheDir.open}. */
export class CacheDir implements Store {
  /** `disk:<path>`. */
  readonly name: string;
  /** The directory path. */
  readonly path: string;
  readonly #o: Required<Omit<CacheDirOptions, "path">>;
  readonly #lock: DirLock;
  readonly #index: DiskIndex;
  readonly #policy: SizedEvictionPolicy<string>;
  readonly #records = new Map<string, IndexRecord>();
  readonly #dirtyRecords = new Set<string>();
  readonly #unflushed = new Map<string, Set<string>>();
  /** Objects read by `variants()`, waiting for the `get()` of the same lookup (see STASH_MS). */
  readonly #stash = new Map<string, { obj: StoredObject; at: number }>();
  /** Object files kept open for the next hit (path -> descriptor). */
  readonly #open: OpenFiles<Mapping>;
  #lastOpenSweep = 0;
  /** Verified file versions of bodies above ALWAYS_VERIFY_BYTES: name -> identity. */
  readonly #verified = new Map<string, string>();
  /** Decoded header blocks of files read before (see `_header_memo.ts`). */
  readonly #headers = new HeaderMemo();
  /** primary -> name and path of its plain (variant "") object; see {@link PlainName}. */
  readonly #plain = new Map<string, PlainName>();
  /** Hits not yet reported to the evictor (non-evicting workers): name -> count. */
  readonly #touched = new Map<string, number>();
  #lastTouchJournal = 0;
  #lastAccessFlush = Date.now();
  #asyncWritesUntil = 0;
  readonly #abort = new AbortController();
  #timer: ReturnType<typeof setInterval> | undefined;
  #tickRunning: Promise<void> | undefined;
  #lastJournalPoll = 0;
  #lastStatRead = 0;
  #background: Promise<void> = Promise.resolve();
  #state: CacheDirStatus["state"] = "ready";
  #rebuild: RebuildProgress | undefined;
  #seq = 0;
  /** Distinguishes temp files of worker threads that share a pid. */
  readonly #token = u32hex();
  readonly #failures: WriteFailures;
  #shared = { objects: 0, bytes: 0 };
  /** Metric series of this directory (labelled once: prom-client hashes labels on every call). */
  readonly #m: { hits: { inc(): void }; misses: { inc(): void }; writes: { inc(): void } };
  #stats = { hits: 0, misses: 0, evictions: 0, damaged: 0 };

  private constructor(path: string, o: Required<Omit<CacheDirOptions, "path">>, lock: DirLock, index: DiskIndex) {
    this.path = path;
    this.#failures = new WriteFailures(path, o.noSpaceBackoffMs);
    this.name = `disk:${path}`;
    this.#o = o;
    this.#lock = lock;
    this.#index = index;
    this.#policy = createPolicy<string>(o.policy);
    this.#open = new OpenFiles<Mapping>(o.openFiles);
    this.#m = {
      hits: m.diskHits.labels({ dir: path }),
      misses: m.diskMisses.labels({ dir: path }),
      writes: m.diskWrites.labels({ dir: path }),
    };
  }

  /**
   * Opens (creating if needed) a cache directory, takes or joins its lock and starts loading or
   * rebuilding its index in the background.
   *
   * @throws {Error} with the path in the message when the directory cannot be created, is not
   *   writable, or is locked by another instance ({@link DirLockedError})
   */
  static async open(opts: CacheDirOptions): Promise<CacheDir> {
    const o: Required<Omit<CacheDirOptions, "path">> = {
      maxBytes: opts.maxBytes,
      l1: opts.l1 ?? 16,
      l2: opts.l2 ?? 256,
      policy: opts.policy ?? "sieve",
      lowWatermark: opts.lowWatermark ?? 0.9,
      highWatermark: opts.highWatermark ?? 0.95,
      maxObjectBytes: opts.maxObjectBytes ?? Math.floor(opts.maxBytes / 4),
      instance: opts.instance ?? processInstanceId(),
      ownerPid: opts.ownerPid ?? Deno.pid,
      evictor: opts.evictor ?? true,
      flushMs: opts.flushMs ?? 200,
      noSpaceBackoffMs: opts.noSpaceBackoffMs ?? 5000,
      openFiles: opts.openFiles ?? 0,
      mapFiles: opts.mapFiles ?? fileMapsAvailable(),
    };
    createPolicy(o.policy); // validate the name before touching the disk
    const path = opts.path.replace(/\/+$/, "") || "/";
    const fail = (what: string, e: unknown): never => {
      throw new Error(`Cannot use cache directory "${path}": ${what}: ${(e as Error).message}`, { cause: e });
    };
    const before = await Deno.stat(path).catch(() => undefined);
    if (before && !before.isDirectory) throw new Error(`Cannot use cache directory "${path}": it is not a directory`);
    if (!before) await Deno.mkdir(path, { recursive: true }).catch((e) => fail("cannot create it", e));
    const st = await Deno.stat(path).catch((e) => fail("cannot stat it", e));
    const probe = `${path}/.probe-${Deno.pid}-${u32hex()}`;
    await Deno.writeTextFile(probe, "webcache").catch((e) => fail("not writable", e));
    await Deno.remove(probe).catch((e) => fail("not writable", e));

    const lock = await acquireDirLock(path, { instance: o.instance, ownerPid: o.ownerPid });
    const kvPath = `${path}/index.kv`;
    const onError = (e: unknown) => log.warn("Cannot write index batch", { dir: path, error: e });
    let index: DiskIndex;
    try {
      if (lock.taker) {
        await Deno.remove(`${path}/tmp`, { recursive: true }).catch(() => {});
        await Deno.mkdir(`${path}/tmp`, { recursive: true });
        let generation = await Deno.readTextFile(`${path}/GENERATION`).then((s) => s.trim()).catch(() => "");
        let reason = "";
        if (!generation) {
          generation = crypto.randomUUID();
          await Deno.writeTextFile(`${path}/GENERATION`, generation + "\n");
          reason = "new directory";
        }
        const dirId = `${st.dev}:${st.ino}`;
        if (!reason && !(await exists(kvPath))) reason = "index file missing";
        if (!reason && lock.crashed) reason = "previous instance did not shut down cleanly";
        index = await DiskIndex.open(kvPath, onError);
        if (!reason) {
          const meta = await index.meta();
          if (!meta) reason = "index has no metadata";
          else if (meta.generation !== `${generation}@${dirId}`) reason = "index belongs to another directory";
          else if (meta.l1 !== o.l1 || meta.l2 !== o.l2) reason = `L1/L2 changed from ${meta.l1}/${meta.l2}`;
          else if (meta.rebuild === "pending") reason = "previous rebuild did not finish";
        }
        if (reason) {
          index.kv.close();
          for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(kvPath + suffix).catch(() => {});
          index = await DiskIndex.open(kvPath, onError);
          await index.setMeta({ generation: `${generation}@${dirId}`, l1: o.l1, l2: o.l2, rebuild: "pending" });
          log.info("Cache directory index will be rebuilt", { dir: path, reason });
        }
        await lock.markReady();
      } else {
        index = await DiskIndex.open(kvPath, onError);
        await removeDeadTempFiles(`${path}/tmp`);
      }
    } catch (e) {
      await lock.release();
      throw e;
    }
    const dir = new CacheDir(path, o, lock, index);
    dir.#start();
    return dir;
  }

  #start(): void {
    if (this.#o.evictor) {
      this.#state = "loading";
      // A directory left above its limit (writers killed between eviction passes) is brought
      // back under the watermark as soon as its index is known, before it reports ready.
      this.#background = this.#loadOrRebuild(this.#abort.signal).then(() => this.#evictIfNeeded()).catch((e) => {
        log.error("Cannot load cache directory index", { dir: this.path, error: e });
        this.#state = "ready";
      });
    }
    this.#timer = setInterval(() => {
      if (!this.#tickRunning) this.#tickRunning = this.#tick().finally(() => this.#tickRunning = undefined);
    }, this.#o.flushMs);
    log.info("Cache directory opened", {
      dir: this.path,
      instance: this.#o.instance,
      evictor: this.#o.evictor,
      maxBytes: this.#o.maxBytes,
      policy: this.#policy.name,
    });
  }

  // ---- paths, events, accounting ----

  #pathOf(name: string): string {
    return `${this.path}/${objectRelPath(name, this.#o.l1, this.#o.l2)}`;
  }

  #event(ev: JournalEvent & { e?: number; t?: number }): void {
    if (this.#o.evictor) this.#apply(ev);
    else if (ev.o === "t") this.#touched.set(ev.k, (this.#touched.get(ev.k) ?? 0) + 1);
    else {
      if (ev.o === "d") this.#touched.delete(ev.k);
      this.#index.journal(ev);
    }
  }

  /** Reports the hits counted since the last call to the evictor (non-evicting workers). */
  #journalTouches(): void {
    for (const [k, c] of this.#touched) this.#index.journal(c === 1 ? { o: "t", k } : { o: "t", k, c });
    this.#touched.clear();
  }

  /** Queues the access records changed by hits since the last call (evicting process). */
  #queueAccessRecords(): void {
    for (const k of this.#dirtyRecords) {
      const rec = this.#records.get(k);
      const p = parseObjectName(k);
      if (rec && p) this.#index.put(p.ph, p.vh, rec);
    }
    this.#dirtyRecords.clear();
  }

  #apply(ev: JournalEvent & { e?: number; t?: number }): void {
    const now = Date.now();
    if (ev.o === "i") {
      this.#policy.insert(ev.k, ev.b);
      this.#records.set(ev.k, { b: ev.b, e: ev.e ?? Infinity, a: now, n: 1, t: ev.t ?? now });
    } else if (ev.o === "t") {
      const rec = this.#records.get(ev.k);
      if (!rec) return;
      // A count comes from a worker that reports hits per object and period; frequency-based
      // policies (GDSF, LFUDA) see each hit, up to 64 per report.
      const c = ev.c ?? 1;
      for (let i = Math.min(c, 64); i > 0; i--) this.#policy.touch(ev.k);
      rec.a = now;
      rec.n = Math.min(255, rec.n + c);
      this.#dirtyRecords.add(ev.k);
    } else {
      this.#policy.remove(ev.k);
      this.#records.delete(ev.k);
      this.#dirtyRecords.delete(ev.k);
    }
  }

  #forget(name: string): void {
    const p = parseObjectName(name)!;
    this.#index.remove(p.ph, p.vh);
    this.#unflushed.get(p.ph)?.delete(name);
    this.#stash.delete(name);
    this.#verified.delete(name);
    this.#headers.forget(name);
    this.#event({ o: "d", k: name });
  }

  /** Deletes and counts a damaged file (synchronously: rare, and callers must not see it again). */
  #damaged(name: string, path: string, reason: string): void {
    this.#stats.damaged++;
    m.diskDamaged.inc({ dir: this.path });
    log.warn("Deleted damaged object file", { dir: this.path, file: path, reason });
    this.#open.drop(path);
    try {
      Deno.removeSync(path);
    } catch { /* gone already */ }
    this.#forget(name);
  }

  // ---- the periodic tick: journal, touches, watermarks, index flush ----

  async #tick(): Promise<void> {
    const now = Date.now();
    try {
      if (this.#o.evictor) {
        if (now - this.#lastJournalPoll >= 200) {
          this.#lastJournalPoll = now;
          for (const ev of await this.#index.takeJournal()) this.#apply(ev as JournalEvent & { e?: number });
        }
        if (now - this.#lastAccessFlush >= ACCESS_FLUSH_MS) {
          this.#lastAccessFlush = now;
          this.#queueAccessRecords();
        }
        await this.#evictIfNeeded();
        if (now - this.#lastStatRead >= 1000) {
          this.#lastStatRead = now;
          await this.#index.kv.set(["stat"], { bytes: this.#policy.bytes, objects: this.#policy.size, at: now });
        }
        m.diskBytes.set({ dir: this.path }, this.#policy.bytes);
        m.diskObjects.set({ dir: this.path }, this.#policy.size);
      } else {
        if (now - this.#lastTouchJournal >= TOUCH_JOURNAL_MS) {
          this.#lastTouchJournal = now;
          this.#journalTouches();
        }
        if (now - this.#lastStatRead >= 1000) {
          this.#lastStatRead = now;
          const s = (await this.#index.kv.get<{ bytes: number; objects: number }>(["stat"])).value;
          if (s) this.#shared = s;
        }
      }
      for (const [name, s] of this.#stash) if (now - s.at > STASH_MS) this.#stash.delete(name);
      if (now - this.#lastOpenSweep >= 1000) {
        // Files deleted by other workers: stop holding their disk space.
        this.#lastOpenSweep = now;
        this.#open.sweep();
      }
      // Forget only the names queued before this flush: objects stored while it runs are still
      // only in the queue, and lookups must keep finding them until the next flush.
      const queued = [...this.#unflushed].map(([ph, set]) => [ph, [...set]] as const);
      await this.#index.flush();
      for (const [ph, names] of queued) {
        const set = this.#unflushed.get(ph);
        if (!set) continue;
        for (const name of names) set.delete(name);
        if (set.size === 0) this.#unflushed.delete(ph);
      }
    } catch (e) {
      if (!this.#abort.signal.aborted) log.warn("Cache directory housekeeping failed", { dir: this.path, error: e });
    }
  }

  async #evictIfNeeded(): Promise<void> {
    const high = this.#o.maxBytes * this.#o.highWatermark;
    if (this.#policy.bytes <= high) return;
    const low = this.#o.maxBytes * this.#o.lowWatermark;
    let n = 0;
    while (this.#policy.bytes > low) {
      const victim = this.#policy.evict();
      if (victim === undefined) break;
      this.#records.delete(victim);
      const p = parseObjectName(victim)!;
      const victimPath = this.#pathOf(victim);
      this.#open.drop(victimPath);
      await Deno.remove(victimPath).catch(() => {});
      this.#index.remove(p.ph, p.vh);
      n++;
    }
    this.#stats.evictions += n;
    m.diskEvictions.inc({ dir: this.path }, n);
    log.debug("Evicted", { dir: this.path, objects: n, bytes: this.#policy.bytes });
  }

  // ---- background: load the index or rebuild it from the files ----

  async #loadOrRebuild(signal: AbortSignal): Promise<void> {
    const meta = await this.#index.meta();
    if (meta?.rebuild === "pending") {
      await this.#rebuildIndex(signal);
      return;
    }
    const started = performance.now();
    const all: { name: string; rec: IndexRecord }[] = [];
    for await (const r of this.#index.records()) {
      if (signal.aborted) return;
      all.push(r);
    }
    all.sort((a, b) => a.rec.a - b.rec.a);
    for (const { name, rec } of all) {
      if (this.#records.has(name)) continue;
      this.#policy.insert(name, rec.b);
      this.#records.set(name, rec);
      for (let i = 1; i < Math.min(rec.n, 8); i++) this.#policy.touch(name);
    }
    this.#state = "ready";
    log.info("Cache directory index loaded", {
      dir: this.path,
      objects: this.#policy.size,
      bytes: this.#policy.bytes,
      ms: Math.round(performance.now() - started),
    });
  }

  async #rebuildIndex(signal: AbortSignal): Promise<void> {
    this.#state = "rebuilding";
    const r: RebuildProgress = this.#rebuild = { scannedFiles: 0, indexed: 0, damaged: 0, startedAt: Date.now() };
    log.info("Rebuilding cache directory index from object files", { dir: this.path });
    let lastLog = Date.now();
    const l1s = await Array.fromAsync(Deno.readDir(this.path));
    for (
      const d1 of l1s.filter((e) => e.isDirectory && /^[0-9A-F]{2}$/.test(e.name)).sort((a, b) =>
        a.name < b.name ? -1 : 1
      )
    ) {
      const l2s = await Array.fromAsync(Deno.readDir(`${this.path}/${d1.name}`)).catch(() => []);
      for (const d2 of l2s.filter((e) => e.isDirectory && /^[0-9A-F]{2}$/.test(e.name))) {
        const sub = `${d1.name}/${d2.name}`;
        const files = await Array.fromAsync(Deno.readDir(`${this.path}/${sub}`)).catch(() => []);
        for (const f of files) {
          if (signal.aborted) return;
          const p = parseObjectName(f.name);
          if (!f.isFile || !p) continue;
          r.scannedFiles++;
          await this.#indexFile(
            `${this.path}/${sub}/${f.name}`,
            f.name,
            sub !== subdirOf(p.ph, this.#o.l1, this.#o.l2),
          );
          if (r.scannedFiles % 500 === 0) await this.#index.flush();
          if (Date.now() - lastLog > 5000) {
            lastLog = Date.now();
            log.info("Rebuilding cache directory index", {
              dir: this.path,
              scanned: r.scannedFiles,
              indexed: r.indexed,
            });
          }
        }
      }
    }
    await this.#index.flush();
    const meta = await this.#index.meta();
    if (meta) await this.#index.setMeta({ ...meta, rebuild: "done" });
    r.endedAt = Date.now();
    this.#state = "ready";
    log.info("Cache directory index rebuilt", {
      dir: this.path,
      scanned: r.scannedFiles,
      indexed: r.indexed,
      damaged: r.damaged,
      bytes: this.#policy.bytes,
      ms: r.endedAt - r.startedAt,
    });
  }

  async #indexFile(path: string, name: string, misplaced: boolean): Promise<void> {
    const r = this.#rebuild!;
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { read: true });
    } catch {
      return; // deleted meanwhile
    }
    let header: EntryHeader;
    let size: number;
    try {
      size = (await f.stat()).size;
      let headerBytes: number;
      ({ header, headerBytes } = await readEntryHeader(f));
      const why = insanity(header, headerBytes, size);
      if (why) throw new EntryDecodeError(why, 0);
    } catch (e) {
      f.close();
      if (e instanceof SyntaxError) {
        r.damaged++;
        this.#damaged(name, path, (e as Error).message);
      }
      return;
    }
    f.close();
    if (objectName(header.meta.primary, header.meta.variant) !== name) {
      r.damaged++;
      this.#damaged(name, path, "file name does not match its key");
      return;
    }
    if (misplaced) {
      const to = this.#pathOf(name);
      await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      await Deno.rename(path, to);
    }
    const p = parseObjectName(name)!;
    const rec: IndexRecord = { b: size, e: header.meta.expiresAt, a: header.storedTime, n: 1, t: header.storedTime };
    this.#index.put(p.ph, p.vh, rec);
    if (!this.#records.has(name)) {
      this.#records.set(name, rec);
      this.#policy.insert(name, size);
    }
    r.indexed++;
  }

  // ---- Store ----

  /** The object name and path of a URL's plain (variant `""`) object, memoized. */
  #plainOf(primary: string): PlainName {
    let e = this.#plain.get(primary);
    if (!e) {
      if (this.#plain.size >= NAME_MEMO_MAX) this.#plain.clear();
      const name = objectName(primary, "");
      this.#plain.set(primary, e = { name, path: this.#pathOf(name), known: false, absentAt: -Infinity });
    }
    return e;
  }

  /**
   * Whether a body read whole matches its CRC-32C; called before any of it is sent. Small bodies
   * are checked on every read. A larger one is checked once per file version (inode, mtime,
   * ctime, size, stored time, CRC; one `fstat()`): a torn or damaged file is caught the first
   * time this process reads it, and a file changed through the file system afterwards is a new
   * version (a write sets ctime, which, unlike mtime, cannot be set back), checked again.
   */
  #bodyVerified(
    f: Deno.FsFile,
    name: string,
    header: EntryHeader,
    body: Uint8Array,
    stat?: Deno.FileInfo,
  ): boolean {
    if (body.length <= ALWAYS_VERIFY_BYTES) return crc32c(body) === header.bodyCrc;
    const st = stat ?? f.statSync();
    const id = `${st.ino}:${st.mtime?.getTime()}:${st.ctime?.getTime()}:${st.size}:${header.storedTime}:` +
      `${header.bodyCrc}`;
    if (this.#verified.get(name) === id) return true;
    if (crc32c(body) !== header.bodyCrc) return false;
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear();
    this.#verified.set(name, id);
    return true;
  }

  /**
   * Maps the kept file of a version just read and checked whole (see `_file_map.ts`). The
   * header block is decoded from the read, before any response head is written into the
   * mapping; a mapping whose header block differs from the read's is not kept.
   */
  #map(
    path: string,
    stat: Deno.FileInfo,
    version: string,
    header: EntryHeader,
    block: Uint8Array,
  ): Mapping | undefined {
    const headerBytes = block.length;
    const bytes = mapFile(path, {
      ino: stat.ino ?? -1,
      size: stat.size,
      mtimeMs: stat.mtime?.getTime() ?? -1,
      ctimeMs: stat.ctime?.getTime() ?? -1,
    });
    if (!bytes || !sameBytes(bytes.subarray(0, headerBytes), block)) return undefined;
    return { version, bytes, header, headerBytes, busy: false };
  }

  /**
   * A hit served from the mapping of a kept file (checked just now: still linked, the version
   * that was mapped). The headroom before the body (the mapped header block) is handed to one
   * response at a time: until that response's `release()`, other hits of the mapping get none
   * (their sender writes the head apart).
   */
  #fromMapping(path: string, f: Deno.FsFile, m: Mapping, key?: ObjectKey): StoredObject | undefined {
    this.#open.keep(path, f, m);
    const { header, headerBytes } = m;
    if (key && (header.meta.primary !== key.primary || header.meta.variant !== key.variant)) return undefined;
    const body = m.bytes.subarray(headerBytes, headerBytes + header.meta.bodyBytes);
    let mine = false;
    return {
      meta: header.meta,
      body,
      tier: "disk",
      takeHeadroom: () => {
        if (m.busy) return 0;
        m.busy = mine = true;
        return headerBytes;
      },
      release: () => {
        if (mine) m.busy = mine = false;
      },
      openBody: (range) => bytesBodyStream(body, range),
    };
  }

  #load(
    name: string,
    key?: ObjectKey,
    headerOnly = false,
    path = this.#pathOf(name),
    probe = false,
  ): StoredObject | undefined {
    // Synchronous open/read/close of at most SMALL_READ_BYTES: microseconds on the page cache,
    // where each async file op is a trip through the blocking thread pool. Bodies beyond that
    // stream asynchronously (fileBodyStream). A file with a body above ALWAYS_VERIFY_BYTES read
    // whole stays open for the next hit (#open): fstat, seek and read instead of open, read,
    // fstat and close; from its second read on it is also mapped (_file_map.ts), and a hit of the
    // mapped version is its fstat alone.
    let f: Deno.FsFile;
    const kept = this.#open.take(path);
    const version = kept ? versionOf(kept.stat) : undefined;
    if (kept?.extra && !headerOnly) {
      if (kept.extra.version === version) return this.#fromMapping(path, kept.file, kept.extra, key);
      kept.extra = undefined; // another version of the file: read it (and map it again)
    }
    if (kept) {
      f = kept.file;
      f.seekSync(0, Deno.SeekMode.Start);
    } else {
      if (probe && !pathExists(path)) return this.#notFound(name);
      try {
        f = Deno.openSync(path, { read: true });
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return this.#notFound(name);
        throw e;
      }
    }
    let keep = false;
    let headroom = 0;
    let release: (() => void) | undefined;
    let own: ReadBuffer | undefined;
    let keptBlock: Uint8Array | undefined;
    let header: EntryHeader;
    let headerBytes: number;
    let body: Uint8Array | undefined;
    try {
      // One read into the slab: a read shorter than the buffer reached the end of a regular
      // file, so small objects need no fstat (open, read, close: three syscalls). A kept file's
      // size is known (its fstat), so it takes exactly that much of the slab.
      // A kept file's read goes into a buffer of its own, the one a finished hit gave back last
      // (still in the CPU's caches: see _read_buffers.ts); other reads share the slabs.
      const want = kept && kept.size > 0 ? Math.min(kept.size, SMALL_READ_BYTES) : SMALL_READ_BYTES;
      own = !headerOnly && kept !== undefined && kept.size > 0 ? readBuffers.take(HEAD_ROOM + want) : undefined;
      const room = own
        ? own.bytes.subarray(0, HEAD_ROOM + want)
        : headerOnly
        ? undefined
        : slabs.room(HEAD_ROOM + want);
      const into = room ? room.subarray(HEAD_ROOM) : SCRATCH;
      let n = f.readSync(into) ?? 0;
      let size = kept ? kept.size : n < into.length ? n : f.statSync().size;
      let head = into.subarray(0, n);
      headerBytes = entryHeaderLength(head);
      if (headerBytes > n) {
        // Header block larger than the scratch buffer (huge headers): read it whole.
        const big = new Uint8Array(headerBytes);
        big.set(head);
        n += readFullSync(f, big.subarray(n));
        head = big.subarray(0, n);
        size = f.statSync().size;
      }
      header = this.#headers.decode(name, head.subarray(0, headerBytes));
      let why = insanity(header, headerBytes, size);
      if (why && size === n) {
        size = f.statSync().size; // a short read that was not the end after all
        why = insanity(header, headerBytes, size);
      }
      if (why) throw new EntryDecodeError(`Cannot load object: ${why}`, 0);
      if (key && (header.meta.primary !== key.primary || header.meta.variant !== key.variant)) {
        f.close();
        own?.release();
        return undefined;
      }
      if (size <= n && !headerOnly) {
        body = head.subarray(headerBytes, headerBytes + header.meta.bodyBytes);
        if (!this.#bodyVerified(f, name, header, body, kept?.stat)) {
          throw new EntryDecodeError("Cannot load object: body checksum mismatch", 0);
        }
        if (room && head.buffer === room.buffer) {
          headroom = HEAD_ROOM + headerBytes;
          release = own ? own.release : slabs.claim(room, HEAD_ROOM + size);
          own = undefined;
        }
        // Kept open: bodies checked once per file version, whose fstat() the kept file's check
        // supplies (an open file per small object measured slower on uniform 10,000-object loads).
        keep = body.length > ALWAYS_VERIFY_BYTES;
        if (keep) keptBlock = head.subarray(0, headerBytes);
      }
    } catch (e) {
      f.close();
      own?.release();
      if (e instanceof SyntaxError) {
        this.#damaged(name, path, (e as Error).message);
        return undefined;
      }
      throw e;
    }
    own?.release(); // read, but not handed out (a body that streams)
    // A body that streams keeps this descriptor for its stream, so eviction or replacement between
    // the lookup and the stream cannot cut a response whose head is already sent; unclaimed (a HEAD,
    // a 304, a client gone) it is closed after STREAM_FD_HOLD_MS.
    let streamFile: Deno.FsFile | undefined;
    let holdTimer: ReturnType<typeof setTimeout> | undefined;
    if (keep) {
      // From the second read of a version on (the first opened the file by path), the file is
      // mapped for the hits that follow.
      let mapping = kept?.extra;
      if (!mapping && kept && version !== undefined && this.#o.mapFiles && kept.size <= SMALL_READ_BYTES) {
        mapping = this.#map(path, kept.stat, version, header, keptBlock!);
      }
      this.#open.keep(path, f, mapping);
    } else if (!body && !headerOnly && header.meta.bodyBytes > 0) {
      streamFile = f;
      const t = setTimeout(() => {
        holdTimer = undefined;
        try {
          streamFile?.close();
        } catch { /* closed */ }
        streamFile = undefined;
      }, STREAM_FD_HOLD_MS);
      Deno.unrefTimer(t);
      holdTimer = t;
    } else f.close();
    const expect = {
      headerBytes,
      bodyBytes: header.meta.bodyBytes,
      bodyCrc: header.bodyCrc,
      storedTime: header.storedTime,
    };
    return {
      meta: header.meta,
      body,
      tier: "disk",
      takeHeadroom: () => {
        const n = headroom;
        headroom = 0;
        return n;
      },
      release,
      openBody: (range) => {
        if (body) return bytesBodyStream(body, range);
        const opened = streamFile;
        streamFile = undefined;
        if (holdTimer !== undefined) clearTimeout(holdTimer);
        return fileBodyStream(path, expect, range, (reason) => this.#damaged(name, path, reason), opened);
      },
    };
  }

  #notFound(name: string): undefined {
    if (this.#o.evictor && this.#records.has(name)) this.#forget(name);
    return undefined;
  }

  /**
   * Returns the stored variants of a URL, read from their files. Fast path (synchronous): a URL
   * whose response has no Vary has one object, under variant `""`, found by its path without
   * asking the index; the object read is kept for the `get()` that follows in the same lookup.
   */
  variants(primary: string, opts?: VariantsOpts): StoredMeta[] | Promise<StoredMeta[]> {
    const e = this.#plainOf(primary);
    const name = e.name;
    const now = Date.now();
    if (now - e.absentAt < ABSENT_MS && !opts?.recheck) return [];
    const plain = this.#load(name, { primary, variant: "" }, false, e.path, !e.known);
    e.known = plain !== undefined;
    if (plain && plain.meta.vary.length === 0) {
      if (this.#stash.size >= STASH_MAX) this.#stash.delete(this.#stash.keys().next().value!);
      this.#stash.set(name, { obj: plain, at: now });
      return [plain.meta];
    }
    const ph = name.slice(0, 32);
    // Without a plain object and without a Vary marker the URL has nothing stored: a miss costs
    // two failed opens, not an index query.
    if (!plain && !this.#unflushed.has(ph) && !pathExists(this.#varyMarker(ph))) {
      e.absentAt = now;
      return [];
    }
    return this.#variantsFromIndex(primary, ph);
  }

  async #variantsFromIndex(primary: string, ph: string): Promise<StoredMeta[]> {
    const names = new Set([...(await this.#index.variantNames(ph)), ...(this.#unflushed.get(ph) ?? [])]);
    const out: StoredMeta[] = [];
    for (const name of names) {
      const obj = this.#load(name, undefined, true);
      if (!obj) {
        const p = parseObjectName(name)!;
        this.#index.remove(p.ph, p.vh);
      } else if (obj.meta.primary === primary) out.push(obj.meta);
    }
    return out;
  }

  /** Looks an object up by its hashed path; counts a hit or miss and tells the evictor. */
  get(key: ObjectKey): StoredObject | undefined {
    let name: string;
    let path: string;
    let plain: PlainName | undefined;
    if (key.variant === "") ({ name, path } = plain = this.#plainOf(key.primary));
    else path = this.#pathOf(name = objectName(key.primary, key.variant));
    let obj: StoredObject | undefined;
    const stashed = this.#stash.get(name);
    if (stashed) {
      this.#stash.delete(name);
      const meta = stashed.obj.meta;
      if (Date.now() - stashed.at <= STASH_MS && meta.primary === key.primary && meta.variant === key.variant) {
        obj = stashed.obj;
      }
    }
    if (!obj) {
      obj = this.#load(name, key, false, path, plain !== undefined && !plain.known);
      if (plain) plain.known = obj !== undefined;
    }
    if (!obj) {
      this.#stats.misses++;
      this.#m.misses.inc();
      return undefined;
    }
    this.#stats.hits++;
    this.#m.hits.inc();
    this.#event({ o: "t", k: name });
    return obj;
  }

  /**
   * Whether this directory has a file for the key (one `existsSync()`; no counters, no index):
   * lets a store with rock directories delete an older copy only where one exists.
   */
  holds(key: ObjectKey): boolean {
    const path = key.variant === ""
      ? this.#plainOf(key.primary).path
      : this.#pathOf(objectName(key.primary, key.variant));
    return pathExists(path);
  }

  /** Starts writing an object to a temporary file; see `_disk_writer.ts`. */
  openWrite(meta: StoredMeta): StoreWriter {
    const name = objectName(meta.primary, meta.variant);
    if (this.#failures.paused) {
      return this.#failures.refusingWriter();
    }
    return new DiskWriter(
      {
        maxObjectBytes: this.#o.maxObjectBytes,
        tempPath: (n) => `${this.path}/tmp/${n}.${Deno.pid}.${this.#token}x${++this.#seq}`,
        install: (temp, n) => this.#install(temp, n),
        installSync: (temp, n) => this.#installSync(temp, n),
        syncWrites: () => Date.now() >= this.#asyncWritesUntil,
        wroteSync: (ms) => {
          if (ms > SLOW_SYNC_WRITE_MS) {
            this.#asyncWritesUntil = Date.now() + ASYNC_WRITES_MS;
            log.debug("Slow synchronous object write: writing through the thread pool for a while", {
              dir: this.path,
              ms: Math.round(ms),
            });
          }
        },
        committed: (n, h, fileBytes) => this.#committed(n, h, fileBytes),
        failed: (reason, e) => this.#failures.failed(reason, e),
      },
      name,
      meta,
    );
  }

  async #install(temp: string, name: string): Promise<void> {
    const to = this.#pathOf(name);
    this.#open.drop(to);
    try {
      await Deno.rename(temp, to);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      await Deno.rename(temp, to);
    }
  }

  #installSync(temp: string, name: string): void {
    const to = this.#pathOf(name);
    this.#open.drop(to);
    try {
      Deno.renameSync(temp, to);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      Deno.mkdirSync(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      Deno.renameSync(temp, to);
    }
  }

  /**
   * Path of the Vary marker of a URL: an empty file `<ph>-vary` beside its objects, created when
   * a variant other than `""` is stored (Squid keeps a "vary object" for the same reason), so
   * `variants()` asks the index only for URLs that have variants.
   */
  #varyMarker(ph: string): string {
    return `${this.path}/${subdirOf(ph, this.#o.l1, this.#o.l2)}/${ph}-vary`;
  }

  #committed(name: string, h: EntryHeader, fileBytes: number): void {
    const p = parseObjectName(name)!;
    const plain = this.#plainOf(h.meta.primary);
    if (h.meta.variant === "") plain.known = true;
    plain.absentAt = -Infinity;
    this.#stash.delete(name);
    this.#verified.delete(name);
    this.#headers.forget(name);
    if (h.meta.variant !== "") {
      const marker = this.#varyMarker(p.ph);
      if (!pathExists(marker)) {
        try {
          Deno.writeFileSync(marker, new Uint8Array(0));
        } catch (e) {
          log.warn("Cannot write Vary marker", { dir: this.path, file: marker, error: e });
        }
      }
    }
    const now = Date.now();
    this.#index.put(p.ph, p.vh, { b: fileBytes, e: h.meta.expiresAt, a: now, n: 1, t: h.storedTime });
    let set = this.#unflushed.get(p.ph);
    if (!set) this.#unflushed.set(p.ph, set = new Set());
    set.add(name);
    this.#event({ o: "i", k: name, b: fileBytes, e: h.meta.expiresAt, t: h.storedTime });
    this.#m.writes.inc();
    this.#failures.stored();
  }

  /** Rewrites an object's header (new headers and times, same body) through a temporary file. */
  async updateMeta(meta: StoredMeta): Promise<boolean> {
    const name = objectName(meta.primary, meta.variant);
    const path = this.#pathOf(name);
    let src: Deno.FsFile;
    try {
      src = await Deno.open(path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    const temp = `${this.path}/tmp/${name}.${Deno.pid}.${this.#token}x${++this.#seq}`;
    let dst: Deno.FsFile | undefined;
    try {
      const size = (await src.stat()).size;
      const { header, headerBytes } = await readEntryHeader(src);
      const why = insanity(header, headerBytes, size);
      if (why) throw new EntryDecodeError(why, 0);
      if (header.meta.primary !== meta.primary || header.meta.variant !== meta.variant) return false;
      const next: EntryHeader = {
        meta: { ...meta, bodyBytes: header.meta.bodyBytes },
        storedTime: Date.now(),
        bodyCrc: header.bodyCrc,
        ...validatorsOf(meta.headers),
      };
      const bytes = encodeEntryHeader(next);
      dst = await Deno.open(temp, { createNew: true, write: true });
      await writeAll(dst, bytes);
      await src.seek(headerBytes, Deno.SeekMode.Start);
      let crc = 0;
      // Blocks of BODY_BLOCK_BYTES: the copy gets a block table (format 2) whatever the source had.
      const blocks: number[] = [];
      for (let left = header.meta.bodyBytes; left > 0;) {
        const buf = new Uint8Array(Math.min(BODY_BLOCK_BYTES, left));
        if (await readFull(src, buf) < buf.length) throw new EntryDecodeError("file is truncated", 0);
        crc = crc32c(buf, crc);
        blocks.push(crc32c(buf));
        await writeAll(dst, buf);
        left -= buf.length;
      }
      if (crc !== header.bodyCrc) throw new EntryDecodeError("body checksum mismatch", 0);
      const table = encodeBlockTable(blocks);
      await writeAll(dst, table);
      dst.close();
      dst = undefined;
      await this.#install(temp, name);
      this.#committed(name, next, bytes.length + header.meta.bodyBytes + table.length);
      return true;
    } catch (e) {
      if (e instanceof SyntaxError) {
        this.#damaged(name, path, (e as Error).message);
        return false;
      }
      if (e instanceof Error && (e as { code?: string }).code) this.#failures.failed("io", e);
      throw e;
    } finally {
      src.close();
      dst?.close();
      await Deno.remove(temp).catch(() => {});
    }
  }

  /** Deletes one variant, or every variant of `primary`; returns how many files were removed. */
  async delete(primary: string, variant?: string): Promise<number> {
    const ph = hash128(primary);
    const names = variant !== undefined
      ? [objectName(primary, variant)]
      : [...new Set([...(await this.#index.variantNames(ph)), ...(this.#unflushed.get(ph) ?? [])])];
    let n = 0;
    if (variant === undefined) await Deno.remove(this.#varyMarker(ph)).catch(() => {});
    for (const name of names) {
      try {
        const path = this.#pathOf(name);
        this.#open.drop(path);
        await Deno.remove(path);
        n++;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      this.#forget(name);
    }
    return n;
  }

  /** Iterates the metadata of every indexed object, read from its file. */
  async *entries(): AsyncIterable<StoredMeta> {
    await this.#index.flush();
    for await (const { name } of this.#index.records()) {
      const obj = this.#load(name);
      if (obj) yield obj.meta;
    }
  }

  /**
   * Counters. Objects, bytes and maxBytes are the directory's in the evicting process and 0 in
   * the other workers, so that sums over all workers count the shared directory once; see
   * {@link CacheDir.status} for the directory's figures from any worker.
   */
  stats(): StoreStats {
    const ev = this.#o.evictor;
    return {
      objects: ev ? this.#policy.size : 0,
      bytes: ev ? this.#policy.bytes : 0,
      maxBytes: ev ? this.#o.maxBytes : 0,
      hits: this.#stats.hits,
      misses: this.#stats.misses,
      evictions: this.#stats.evictions,
      damaged: this.#stats.damaged,
      writeFailures: { ...this.#failures.counts },
    };
  }

  /** State for `/status`: loading, rebuilding (with progress) or ready. */
  status(): CacheDirStatus {
    const ev = this.#o.evictor;
    const s = {
      objects: ev ? this.#policy.size : this.#shared.objects,
      bytes: ev ? this.#policy.bytes : this.#shared.bytes,
      maxBytes: this.#o.maxBytes,
    };
    const r = this.#rebuild;
    return {
      path: this.path,
      state: this.#state,
      instance: this.#o.instance,
      evictor: this.#o.evictor,
      policy: this.#policy.name,
      objects: s.objects,
      bytes: s.bytes,
      maxBytes: s.maxBytes,
      rebuild: r && {
        scannedFiles: r.scannedFiles,
        indexed: r.indexed,
        damaged: r.damaged,
        startedAt: new Date(r.startedAt).toISOString(),
        elapsedMs: (r.endedAt ?? Date.now()) - r.startedAt,
      },
      noSpace: this.#failures.paused,
    };
  }

  /** Resolves when the background index load or rebuild has finished (for tests and tools). */
  whenReady(): Promise<void> {
    return this.#background;
  }

  /** Stops the background work, flushes the index and releases the lock. */
  async close(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#timer);
    await this.#background;
    await this.#tickRunning;
    if (this.#o.evictor) {
      await this.#index.kv.set(["stat"], { bytes: this.#policy.bytes, objects: this.#policy.size, at: Date.now() })
        .catch(() => {});
    }
    if (this.#o.evictor) {
      // What the other workers reported since the last poll, so their hits reach the records.
      try {
        for (let evs = await this.#index.takeJournal(); evs.length; evs = await this.#index.takeJournal()) {
          for (const ev of evs) this.#apply(ev);
        }
      } catch (e) {
        log.warn("Cannot read the index journal", { dir: this.path, error: e });
      }
      this.#queueAccessRecords();
    } else this.#journalTouches();
    this.#stash.clear();
    this.#open.closeAll();
    await this.#index.close();
    await this.#lock.release();
    log.info("Cache directory closed", { dir: this.path });
  }
}

/** A kept file's mapping (`_file_map.ts`) with the header decoded from its version's read. */
interface Mapping {
  /** The file version mapped ({@link versionOf} its `fstat()`). */
  version: string;
  bytes: Uint8Array;
  header: EntryHeader;
  headerBytes: number;
  /** A response owns the headroom before the body (its write has not completed). */
  busy: boolean;
}

/** A file version as `fstat()` tells it: inode, times (ms), size. */
function versionOf(st: Deno.FileInfo): string {
  return `${st.ino}:${st.mtime?.getTime()}:${st.ctime?.getTime()}:${st.size}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
