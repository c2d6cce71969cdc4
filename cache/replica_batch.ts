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
 * A batch ({@link ReplicaBatch}) carries the metadata of each object, flattened, and all bodies
 * back to back in one `ArrayBuffer`, which is transferred (not copied) to the receiver:
 *
 * ```text
 * bodies: | bodyBytes(0) bytes of body 0 | bodyBytes(1) bytes of body 1 | ... |
 * ```
 *
 * Ordering with invalidations: a PURGE (or an unsafe method) that deletes a key must not be undone
 * by a copy of that key still waiting here. {@link ReplicaBatcher.forget} drops pending copies of
 * deleted keys; the worker plumbing calls it before it sends or applies an invalidation.
 *
 * @module
 */
import type { StoredMeta } from "./store/store.ts";

/**
 * Objects sent together; see the module doc. The metadata is flattened into a list of strings and
 * a list of numbers (structured clone then copies a few strings and one typed array instead of
 * walking an object with named fields and nested arrays per object):
 *
 * ```text
 * numbers, NUMBERS_PER_META per object: status requestTime responseTime expiresAt bodyBytes nHeaders nVary
 * strings, per object:                  primary variant name1 value1 ... nameN valueN vary1 ... varyM
 * ```
 */
export interface ReplicaBatch {
  /** Numeric fields of each object, {@link NUMBERS_PER_META} per object. */
  numbers: Float64Array;
  /** String fields of each object, in order. */
  strings: string[];
  /** The bodies back to back. */
  bodies: Uint8Array;
}

/** Numbers per object in {@link ReplicaBatch.numbers}. */
export const NUMBERS_PER_META = 7;

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
    const batch = encodeBatch(this.#metas, out);
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

function encodeBatch(metas: StoredMeta[], bodies: Uint8Array): ReplicaBatch {
  const numbers = new Float64Array(metas.length * NUMBERS_PER_META);
  const strings: string[] = [];
  let n = 0;
  for (const m of metas) {
    numbers[n++] = m.status;
    numbers[n++] = m.requestTime;
    numbers[n++] = m.responseTime;
    numbers[n++] = m.expiresAt;
    numbers[n++] = m.bodyBytes;
    numbers[n++] = m.headers.length;
    numbers[n++] = m.vary.length;
    strings.push(m.primary, m.variant);
    for (const [k, v] of m.headers) strings.push(k, v);
    for (const v of m.vary) strings.push(v);
  }
  return { numbers, strings, bodies };
}

/**
 * Splits a received batch into its objects. A body is a view of the batch's buffer when it is the
 * only object, else a copy (so a stored body does not keep the other objects' bytes alive after
 * they were evicted).
 *
 * @param batch a batch from {@link ReplicaBatcher}
 * @returns each object's metadata and body, in order
 * @throws {RangeError} when the batch is inconsistent (field counts, body lengths)
 */
export function unpackReplicas(batch: ReplicaBatch): [StoredMeta, Uint8Array][] {
  const { numbers, strings, bodies } = batch;
  if (numbers.length % NUMBERS_PER_META !== 0) {
    throw new RangeError(
      `Cannot unpack replica batch: ${numbers.length} numbers is not a multiple of ${NUMBERS_PER_META}`,
    );
  }
  const count = numbers.length / NUMBERS_PER_META;
  const out: [StoredMeta, Uint8Array][] = [];
  let off = 0;
  let s = 0;
  for (let i = 0, n = 0; i < count; i++, n += NUMBERS_PER_META) {
    const bodyBytes = numbers[n + 4], nHeaders = numbers[n + 5], nVary = numbers[n + 6];
    const end = off + bodyBytes;
    if (!(bodyBytes >= 0) || end > bodies.length) {
      throw new RangeError(
        `Cannot unpack replica batch: body of ${bodyBytes} bytes at ${off} exceeds ${bodies.length}`,
      );
    }
    if (!(nHeaders >= 0 && nVary >= 0) || s + 2 + 2 * nHeaders + nVary > strings.length) {
      throw new RangeError(`Cannot unpack replica batch: object ${i} needs more than ${strings.length} strings`);
    }
    const primary = strings[s++], variant = strings[s++];
    const headers: [string, string][] = new Array(nHeaders);
    for (let h = 0; h < nHeaders; h++, s += 2) headers[h] = [strings[s], strings[s + 1]];
    const vary = strings.slice(s, s + nVary);
    s += nVary;
    const meta: StoredMeta = {
      primary,
      variant,
      status: numbers[n],
      headers,
      vary,
      requestTime: numbers[n + 1],
      responseTime: numbers[n + 2],
      expiresAt: numbers[n + 3],
      bodyBytes,
    };
    out.push([meta, count === 1 ? bodies.subarray(off, end) : bodies.slice(off, end)]);
    off = end;
  }
  if (off !== bodies.length || s !== strings.length) {
    throw new RangeError(
      `Cannot unpack replica batch: objects use ${off} of ${bodies.length} bytes and ${s} of ${strings.length} strings`,
    );
  }
  return out;
}
