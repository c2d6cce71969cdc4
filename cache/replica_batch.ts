/**
 * The codec of objects sent between cache workers (`lazy_copy.ts`: the answer to "send me your copy
 * of K"): metadata flattened into strings and numbers, and all bodies back to back in one
 * `ArrayBuffer`, which is transferred (not copied) to the receiver:
 *
 * ```text
 * bodies: | bodyBytes(0) bytes of body 0 | bodyBytes(1) bytes of body 1 | ... |
 * ```
 *
 * Why flattened: structured clone then copies a few strings and one typed array instead of walking
 * an object with named fields and nested arrays per object (a message between Deno workers costs
 * tens of µs; see `bench/miss_path.md`).
 *
 * @module
 */
import type { StoredMeta } from "./store/store.ts";
import { storedHeaderList } from "./store/compact_meta.ts";

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

/**
 * Packs objects into one batch: the bodies are copied back to back into one new buffer, which the
 * caller may transfer (`postMessage(msg, [batch.bodies.buffer])`); the stored buffers stay untouched.
 * `bodyBytes` is taken from each body.
 *
 * @param objects each object's metadata and body
 * @returns the batch
 */
export function packReplicas(objects: readonly (readonly [StoredMeta, Uint8Array])[]): ReplicaBatch {
  let total = 0;
  for (const [, b] of objects) total += b.length;
  const bodies = new Uint8Array(total);
  let off = 0;
  const metas: StoredMeta[] = [];
  for (const [m, b] of objects) {
    bodies.set(b, off);
    off += b.length;
    metas.push(m.bodyBytes === b.length ? m : { ...m, bodyBytes: b.length });
  }
  return encodeBatch(metas, bodies);
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
    // The holder's compact metadata keeps no decoded list for a copy (storedHeaderList).
    const headers = storedHeaderList(m);
    numbers[n++] = headers.length;
    numbers[n++] = m.vary.length;
    strings.push(m.primary, m.variant);
    for (const [k, v] of headers) strings.push(k, v);
    for (const v of m.vary) strings.push(v);
  }
  return { numbers, strings, bodies };
}

/**
 * Splits a received batch into its objects. A body is a view of the batch's buffer when it is the
 * only object, else a copy (so a stored body does not keep the other objects' bytes alive after
 * they were evicted).
 *
 * @param batch a batch from {@link packReplicas}
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
