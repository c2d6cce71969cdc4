/**
 * `ReplicaBatcher`: the copies of newly stored objects that one cache worker sends to the others
 * (memory-only caches keep a copy of every object in every worker, so a miss in one worker is a
 * hit in all), collected for a short while and sent as one message.
 *
 * Why: a message between Deno workers costs about 70 µs of CPU (serialise, hand over, wake the
 * receiver, deserialise, dispatch the event), more than the rest of a 1 KiB miss. Batched, the
 * per-object cost falls to the clone of its metadata and one store insert (about 10 µs at 16 per
 * batch). The price is that a copy arrives up to {@link ReplicaBatcherOptions.delayMs} later.
 *
 * A batch ({@link ReplicaBatch}) carries the metadata of each object and all bodies back to back
 * in one `ArrayBuffer`, which is transferred (not copied) to the receiver:
 *
 * ```text
 * metas:  [ meta0 (bodyBytes = n0), meta1 (bodyBytes = n1), meta2 ... ]
 * bodies: | n0 bytes of body 0 | n1 bytes of body 1 | n2 bytes ... |
 * ```
 *
 * Ordering with invalidations: a PURGE (or an unsafe method) that deletes a key must not be undone
 * by a copy of that key still waiting here. {@link ReplicaBatcher.forget} drops pending copies of
 * deleted keys; the worker plumbing calls it before it sends or applies an invalidation.
 *
 * @module
 */
import type { StoredMeta } from "./store/store.ts";

/** Objects sent together; see the module doc. */
export interface ReplicaBatch {
  /** Metadata of each object, in order; `bodyBytes` is its body's length in `bodies`. */
  metas: StoredMeta[];
  /** The bodies back to back. */
  bodies: Uint8Array;
}

/** Options of {@link ReplicaBatcher}. */
export interface ReplicaBatcherOptions {
  /** How long the first object of a batch may wait for others (ms); 0 sends at the end of the current task. */
  delayMs?: number;
  /** Send at once when the pending bodies reach this many bytes. */
  maxBytes?: number;
  /** Send at once when this many objects are pending. */
  maxObjects?: number;
}

/** Default {@link ReplicaBatcherOptions.delayMs}: short next to any client's think time. */
export const REPLICA_DELAY_MS = 2;
/** Default {@link ReplicaBatcherOptions.maxBytes}. */
export const REPLICA_MAX_BYTES = 256 * 1024;
/** Default {@link ReplicaBatcherOptions.maxObjects}. */
export const REPLICA_MAX_OBJECTS = 64;

/** Collects copies and hands them to `send` in batches; see the module doc. */
export class ReplicaBatcher {
  readonly #send: (batch: ReplicaBatch, transfer: ArrayBuffer[]) => void;
  readonly #delayMs: number;
  readonly #maxBytes: number;
  readonly #maxObjects: number;
  #metas: StoredMeta[] = [];
  #bodies: Uint8Array[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates a batcher.
   *
   * @param send posts one batch (with its transfer list) to the other workers
   * @param opts delay and size limits
   */
  constructor(send: (batch: ReplicaBatch, transfer: ArrayBuffer[]) => void, opts: ReplicaBatcherOptions = {}) {
    this.#send = send;
    this.#delayMs = opts.delayMs ?? REPLICA_DELAY_MS;
    this.#maxBytes = opts.maxBytes ?? REPLICA_MAX_BYTES;
    this.#maxObjects = opts.maxObjects ?? REPLICA_MAX_OBJECTS;
  }

  /** Objects waiting to be sent. */
  get pending(): number {
    return this.#metas.length;
  }

  /**
   * Queues a copy of a stored object. The body is copied when the batch is sent, so the caller
   * may pass the stored buffer itself (it is neither kept past the send nor transferred).
   *
   * @param meta the object's metadata
   * @param body its body
   */
  add(meta: StoredMeta, body: Uint8Array): void {
    this.#metas.push(meta.bodyBytes === body.length ? meta : { ...meta, bodyBytes: body.length });
    this.#bodies.push(body);
    this.#bytes += body.length;
    if (this.#metas.length >= this.#maxObjects || this.#bytes >= this.#maxBytes) this.flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), this.#delayMs);
  }

  /**
   * Drops pending copies of deleted objects (every variant of each primary key).
   *
   * @param keys primary cache keys
   */
  forget(keys: readonly string[]): void {
    if (this.#metas.length === 0) return;
    const drop = new Set(keys);
    const metas: StoredMeta[] = [];
    const bodies: Uint8Array[] = [];
    let bytes = 0;
    for (let i = 0; i < this.#metas.length; i++) {
      if (drop.has(this.#metas[i].primary)) continue;
      metas.push(this.#metas[i]);
      bodies.push(this.#bodies[i]);
      bytes += this.#bodies[i].length;
    }
    this.#metas = metas;
    this.#bodies = bodies;
    this.#bytes = bytes;
    if (metas.length === 0) this.#cancelTimer();
  }

  /** Sends what is pending now. */
  flush(): void {
    this.#cancelTimer();
    if (this.#metas.length === 0) return;
    const out = new Uint8Array(this.#bytes);
    let off = 0;
    for (const b of this.#bodies) {
      out.set(b, off);
      off += b.length;
    }
    const batch: ReplicaBatch = { metas: this.#metas, bodies: out };
    this.#metas = [];
    this.#bodies = [];
    this.#bytes = 0;
    this.#send(batch, [out.buffer]);
  }

  /** Drops everything pending and stops the timer (shutdown). */
  close(): void {
    this.#cancelTimer();
    this.#metas = [];
    this.#bodies = [];
    this.#bytes = 0;
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Splits a received batch into its objects. A body is a view of the batch's buffer when it is the
 * only object, else a copy (so a stored body does not keep the other objects' bytes alive after
 * they were evicted).
 *
 * @param batch a batch from {@link ReplicaBatcher}
 * @returns each object's metadata and body, in order
 * @throws {RangeError} when the bodies do not add up to the buffer's length
 */
export function unpackReplicas(batch: ReplicaBatch): [StoredMeta, Uint8Array][] {
  const out: [StoredMeta, Uint8Array][] = [];
  const single = batch.metas.length === 1;
  let off = 0;
  for (const meta of batch.metas) {
    const end = off + meta.bodyBytes;
    if (meta.bodyBytes < 0 || end > batch.bodies.length) {
      throw new RangeError(
        `Cannot unpack replica batch: body of ${meta.bodyBytes} bytes at ${off} exceeds ${batch.bodies.length}`,
      );
    }
    out.push([meta, single ? batch.bodies.subarray(off, end) : batch.bodies.slice(off, end)]);
    off = end;
  }
  if (off !== batch.bodies.length) {
    throw new RangeError(`Cannot unpack replica batch: bodies use ${off} of ${batch.bodies.length} bytes`);
  }
  return out;
}
