/**
 * The index of one cache directory in Deno KV (SQLite, safe for several processes), with batched
 * writes.
 *
 * Keys:
 *
 * ```text
 * ["meta"]                       -> { generation, l1, l2, rebuild: "pending" | "done" }
 * ["o", ph, vh]                  -> IndexRecord, one per object file <ph>-<vh>
 * ["j", ms, pid, seq]            -> JournalEvent[], written by processes that do not evict
 * ["stat"]                       -> { bytes, objects, at }, written by the evicting process
 * ```
 *
 * The files are the truth and the index is a hint: a record without a file is dropped when found,
 * a file without a record is still served (lookups go to the file by its hashed path) and is
 * indexed by the next rebuild. This is what lets several worker processes share a directory
 * without locks around every write.
 *
 * Index writes are queued and committed together (one `atomic()` per batch, at most
 * {@link MAX_BATCH} mutations, at least every `flushMs`), so storing an object costs a
 * queue push, not a SQLite transaction.
 *
 * @module
 */

/** What the index keeps per object ("frequency bits" capped at 255). */
export interface IndexRecord {
  /** File bytes (header block + body). */
  b: number;
  /** Expiry, ms since epoch. */
  e: number;
  /** Last access, ms since epoch. */
  a: number;
  /** Access count, capped at 255. */
  n: number;
  /** Stored time, ms since epoch. */
  t: number;
}

/**
 * A change reported to the evicting process: insert (with bytes), touch (`c` hits, default 1:
 * workers report hits per object and period), or delete.
 */
export type JournalEvent =
  | { o: "i"; k: string; b: number }
  | { o: "t"; k: string; c?: number }
  | { o: "d"; k: string };

/** Index metadata of a directory. */
export interface IndexMeta {
  generation: string;
  l1: number;
  l2: number;
  rebuild: "pending" | "done";
}

/** Mutations per KV atomic operation (Deno KV allows 1000; leave room). */
export const MAX_BATCH = 500;

/**
 * Journal events per KV value. An event serialises to about 80 bytes (an object name is 65
 * characters), so 256 events stay well under KV's 64 KiB value limit; 1000 did not (every batch
 * of a worker that hit more than about 800 objects per second was refused and lost).
 */
export const JOURNAL_CHUNK_EVENTS = 256;
/** Journal values per KV atomic operation: 16 × ~21 KiB stays under KV's 800 KiB per commit. */
const JOURNAL_CHUNKS_PER_COMMIT = 16;

type Mutation = { key: Deno.KvKey; value?: unknown };

/** A KV index with a write queue. */
export class DiskIndex {
  readonly kv: Deno.Kv;
  #queue: Mutation[] = [];
  #journal: JournalEvent[] = [];
  #seq = 0;
  #flushing: Promise<void> | undefined;
  #onError: (e: unknown) => void;

  /**
   * @param kv an open KV store
   * @param onError called when a batch cannot be written (it is then dropped: the index is a hint)
   */
  constructor(kv: Deno.Kv, onError: (e: unknown) => void) {
    this.kv = kv;
    this.#onError = onError;
  }

  /** Opens the KV file at `path`. */
  static async open(path: string, onError: (e: unknown) => void): Promise<DiskIndex> {
    return new DiskIndex(await Deno.openKv(path), onError);
  }

  /** Mutations and journal events waiting for the next flush. */
  get pending(): number {
    return this.#queue.length + this.#journal.length;
  }

  /** Reads the directory metadata. */
  async meta(): Promise<IndexMeta | undefined> {
    return (await this.kv.get<IndexMeta>(["meta"])).value ?? undefined;
  }

  /** Writes the directory metadata now. */
  async setMeta(meta: IndexMeta): Promise<void> {
    await this.kv.set(["meta"], meta);
  }

  /** Queues a record write. */
  put(ph: string, vh: string, rec: IndexRecord): void {
    this.#queue.push({ key: ["o", ph, vh], value: rec });
  }

  /** Queues a record delete. */
  remove(ph: string, vh: string): void {
    this.#queue.push({ key: ["o", ph, vh] });
  }

  /** Queues a journal event for the evicting process. */
  journal(ev: JournalEvent): void {
    this.#journal.push(ev);
  }

  /** Object names (`ph-vh`) indexed under a primary hash. */
  async variantNames(ph: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.kv.list({ prefix: ["o", ph] })) out.push(`${ph}-${e.key[2] as string}`);
    return out;
  }

  /** Iterates every record. */
  async *records(): AsyncGenerator<{ name: string; rec: IndexRecord }> {
    for await (const e of this.kv.list<IndexRecord>({ prefix: ["o"] }, { batchSize: 1000 })) {
      yield { name: `${e.key[1] as string}-${e.key[2] as string}`, rec: e.value };
    }
  }

  /** Takes up to `limit` journal records written by other processes, deleting them. */
  async takeJournal(limit = 200): Promise<JournalEvent[]> {
    const events: JournalEvent[] = [];
    const keys: Deno.KvKey[] = [];
    for await (const e of this.kv.list<JournalEvent[]>({ prefix: ["j"] }, { limit })) {
      events.push(...e.value);
      keys.push(e.key);
    }
    for (let i = 0; i < keys.length; i += MAX_BATCH) {
      const op = this.kv.atomic();
      for (const k of keys.slice(i, i + MAX_BATCH)) op.delete(k);
      await op.commit();
    }
    return events;
  }

  /** Commits everything queued; concurrent calls share one flush. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing.then(() => this.pending > 0 ? this.flush() : undefined);
    if (this.pending === 0) return Promise.resolve();
    this.#flushing = this.#doFlush().finally(() => this.#flushing = undefined);
    return this.#flushing;
  }

  async #doFlush(): Promise<void> {
    const queue = this.#queue;
    const journal = this.#journal;
    this.#queue = [];
    this.#journal = [];
    const batches: Mutation[][] = [];
    for (let i = 0; i < queue.length; i += MAX_BATCH) batches.push(queue.slice(i, i + MAX_BATCH));
    let chunks: Mutation[] = [];
    for (let i = 0; i < journal.length; i += JOURNAL_CHUNK_EVENTS) {
      if (chunks.length === JOURNAL_CHUNKS_PER_COMMIT) batches.push(chunks = []);
      else if (chunks.length === 0) batches.push(chunks);
      chunks.push({ key: ["j", Date.now(), Deno.pid, this.#seq++], value: journal.slice(i, i + JOURNAL_CHUNK_EVENTS) });
    }
    for (const batch of batches) {
      const op = this.kv.atomic();
      for (const m of batch) {
        if (m.value === undefined) op.delete(m.key);
        else op.set(m.key, m.value);
      }
      try {
        await op.commit();
      } catch (e) {
        this.#onError(e);
      }
    }
  }

  /** Flushes and closes the KV store. */
  async close(): Promise<void> {
    await this.flush();
    this.kv.close();
  }
}
