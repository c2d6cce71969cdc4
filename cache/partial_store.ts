/**
 * Stored partial content (RFC 9111 §3.3-3.4): 206 responses kept "as if incomplete 200
 * responses", answering later range requests that fall wholly within them, and combined into a
 * complete response once the parts cover the whole representation.
 *
 * ```
 *  part 0-4/10 ──put──> [0────4]                      (stored, not complete)
 *  part 6-9/10 ──put──> [0────4]  [6──9]              (same strong ETag: combined)
 *  part 5-5/10 ──put──> [0──────────9]  → complete    (handed back to be stored as a 200, entry dropped)
 *  part 2-3/10, other ETag ──put──> [2─3]             (not the same representation: replaces the rest)
 * ```
 *
 * Rules:
 * - A part is combined with the stored ones only when both carry the **same strong entity tag**
 *   and the same complete length (RFC 9111 §3.4); the new part's header fields replace the
 *   stored ones (§3.4 "MUST use the header fields provided in the new response"). Otherwise the
 *   new part replaces the entry. Overlapping bytes are taken from the newer part.
 * - An entry never answers a request as a complete response: {@link PartialStore.covers} says
 *   whether a range lies wholly within one stored segment (§3.3), and only then may the caller
 *   serve 206 from it. The complete body leaves this store only through `put`'s `complete` result.
 * - Memory is bounded by `maxBytes` over all entries; the least recently used entries go first.
 *   A part larger than the bound is refused.
 *
 * Nothing here does I/O or reads a clock; the caller decides storability and freshness (with
 * `isStorable` and `evaluateFreshness`, treating the part as a 200).
 *
 * @module
 */

import { parseEntityTag } from "./semantics/entity_tag.ts";
import { getHeader } from "./semantics/header_getter.ts";
import type { ObjectKey, StoredMeta, StoredObject } from "./store/store.ts";

/** What is kept about a partial response besides its bytes. */
export interface PartialMeta extends ObjectKey {
  /** The newest part's header fields without `Content-Range` and `Content-Length`. */
  headers: [string, string][];
  /** Header names the response varies on (lower-case). */
  vary: string[];
  /** When the request of the newest part was sent, ms since epoch. */
  requestTime: number;
  /** When the newest part arrived, ms since epoch. */
  responseTime: number;
  /** Length of the complete representation in bytes. */
  length: number;
}

/** A run of stored bytes. */
export interface Segment {
  /** Position of the first byte in the representation. */
  readonly start: number;
  /** The bytes (`start` … `start + bytes.length - 1`). */
  readonly bytes: Uint8Array;
}

/** One stored partial representation. */
export interface PartialObject {
  /** Its metadata (of the newest part). */
  readonly meta: PartialMeta;
  /** Stored runs, sorted by start, neither overlapping nor adjacent. */
  readonly segments: readonly Segment[];
  /** Bytes held. */
  readonly bytes: number;
}

/** Result of {@link PartialStore.put}. */
export type PutResult =
  /** Kept; `combined` when merged with earlier parts of the same representation. */
  | { kind: "stored"; combined: boolean }
  /** The parts now make the whole representation: store `body` as a complete 200 (entry dropped). */
  | { kind: "complete"; meta: PartialMeta; body: Uint8Array }
  /** Not kept: larger than the store, or the body does not match the range. */
  | { kind: "refused"; reason: "too-large" | "length-mismatch" };

/** Options of {@link PartialStore}. */
export interface PartialStoreOptions {
  /** Bound of the bytes held over all entries. */
  maxBytes: number;
}

const keyOf = (k: ObjectKey): string => `${k.primary}\n${k.variant}`;

/** The strong entity tag of a header list, or `undefined` when it has none (or a weak one). */
function strongEtag(headers: [string, string][]): string | undefined {
  const tag = parseEntityTag(getHeader(headers, "etag"));
  return tag !== undefined && !tag.weak ? tag.tag : undefined;
}

/** Places `seg` into `old` (newer bytes win where they overlap) and merges adjacent runs. */
export function mergeSegments(old: readonly Segment[], seg: Segment): Segment[] {
  const sEnd = seg.start + seg.bytes.length; // exclusive
  const pieces: Segment[] = [seg];
  for (const o of old) {
    const oEnd = o.start + o.bytes.length;
    if (oEnd <= seg.start || o.start >= sEnd) {
      pieces.push(o);
      continue;
    }
    if (o.start < seg.start) pieces.push({ start: o.start, bytes: o.bytes.subarray(0, seg.start - o.start) });
    if (oEnd > sEnd) pieces.push({ start: sEnd, bytes: o.bytes.subarray(sEnd - o.start) });
  }
  pieces.sort((a, b) => a.start - b.start);
  const out: Segment[] = [];
  let run: Segment[] = [];
  const flush = () => {
    if (run.length === 0) return;
    if (run.length === 1) out.push(run[0]);
    else {
      const total = run.reduce((n, r) => n + r.bytes.length, 0);
      const bytes = new Uint8Array(total);
      let at = 0;
      for (const r of run) {
        bytes.set(r.bytes, at);
        at += r.bytes.length;
      }
      out.push({ start: run[0].start, bytes });
    }
    run = [];
  };
  for (const p of pieces) {
    const last = run[run.length - 1];
    if (last && last.start + last.bytes.length !== p.start) flush();
    run.push(p);
  }
  flush();
  return out;
}

/** Bounded in-memory store of partial responses; see the module doc. */
export class PartialStore {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, PartialObject>();
  #bytes = 0;

  /**
   * Creates an empty store.
   *
   * @param opts the memory bound
   */
  constructor(opts: PartialStoreOptions) {
    this.#maxBytes = opts.maxBytes;
  }

  /**
   * Adds one part (a 206 with a single satisfied `Content-Range`).
   *
   * @param meta the part's metadata (header fields without `Content-Range`/`Content-Length`)
   * @param start first byte position of the part (from `Content-Range`)
   * @param body the part's bytes (this store keeps the array: do not modify it afterwards)
   * @returns stored (combined or not), complete (with the whole body), or refused
   */
  put(meta: PartialMeta, start: number, body: Uint8Array): PutResult {
    if (body.length === 0 || start + body.length > meta.length) return { kind: "refused", reason: "length-mismatch" };
    if (body.length > this.#maxBytes) return { kind: "refused", reason: "too-large" };
    const key = keyOf(meta);
    const old = this.#entries.get(key);
    const etag = strongEtag(meta.headers);
    const combine = old !== undefined && etag !== undefined && old.meta.length === meta.length &&
      strongEtag(old.meta.headers) === etag;
    this.#remove(key);
    const segments = combine ? mergeSegments(old.segments, { start, bytes: body }) : [{ start, bytes: body }];
    if (segments.length === 1 && segments[0].start === 0 && segments[0].bytes.length === meta.length) {
      return { kind: "complete", meta, body: segments[0].bytes };
    }
    const bytes = segments.reduce((n, s) => n + s.bytes.length, 0);
    this.#entries.set(key, { meta, segments, bytes });
    this.#bytes += bytes;
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next().value as string;
      this.#remove(oldest);
    }
    return { kind: "stored", combined: combine };
  }

  /**
   * The stored partial representations of a URL (one per variant).
   *
   * @param primary the primary cache key
   */
  variants(primary: string): PartialObject[] {
    const out: PartialObject[] = [];
    for (const [k, v] of this.#entries) if (k.startsWith(primary + "\n")) out.push(v);
    return out;
  }

  /**
   * The segment holding bytes `start` … `end` (inclusive) wholly, if any (RFC 9111 §3.3: only
   * such a request may be answered from an incomplete response). Marks the entry as used.
   *
   * @param obj a stored partial representation
   * @param start first byte position
   * @param end last byte position (inclusive)
   * @returns the bytes, or `undefined` when no single stored run covers the range
   */
  covers(obj: PartialObject, start: number, end: number): Uint8Array | undefined {
    for (const s of obj.segments) {
      if (s.start <= start && end < s.start + s.bytes.length) {
        const key = keyOf(obj.meta);
        if (this.#entries.get(key) === obj) {
          this.#entries.delete(key);
          this.#entries.set(key, obj);
        }
        return s.bytes.subarray(start - s.start, end - s.start + 1);
      }
    }
    return undefined;
  }

  /**
   * Drops every partial representation of a URL (invalidation, PURGE, a complete response
   * stored in the main store).
   *
   * @param primary the primary cache key
   * @returns how many entries went
   */
  delete(primary: string): number {
    let n = 0;
    for (const k of [...this.#entries.keys()]) {
      if (k.startsWith(primary + "\n")) {
        this.#remove(k);
        n++;
      }
    }
    return n;
  }

  /** Entries and bytes held. */
  stats(): { objects: number; bytes: number } {
    return { objects: this.#entries.size, bytes: this.#bytes };
  }

  #remove(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
  }
}

/**
 * The stored metadata of a complete 200 made of a partial representation's fields.
 *
 * @param m the partial representation's metadata
 * @param bodyBytes the complete length
 * @returns metadata with `expiresAt` 0, for the caller to compute
 */
export function completeMeta(m: PartialMeta, bodyBytes: number): StoredMeta {
  return {
    primary: m.primary,
    variant: m.variant,
    status: 200,
    headers: m.headers,
    vary: m.vary,
    requestTime: m.requestTime,
    responseTime: m.responseTime,
    expiresAt: 0,
    bodyBytes,
  };
}

/**
 * A view of one covered range of a partial representation as a {@link StoredObject} of the
 * complete length, for the code that serves stored objects. Its `openBody` serves only the given
 * range (the caller checked {@link PartialStore.covers}); any other range, or no range, errors,
 * so it can never pass for the complete response.
 *
 * @param obj the partial representation
 * @param range the covered range and its bytes; none for a view that serves no body (a 416)
 * @returns a stored-object view whose `meta.bodyBytes` is the complete length
 */
export function partialView(
  obj: PartialObject,
  range?: { start: number; end: number; bytes: Uint8Array },
): StoredObject {
  const meta = completeMeta(obj.meta, obj.meta.length);
  return {
    meta,
    openBody(r?: { start: number; end: number }): ReadableStream<Uint8Array> {
      if (!range || !r || r.start !== range.start || r.end !== range.end) {
        return new ReadableStream({
          start: (c) => c.error(new RangeError("Cannot read partial object: range not stored")),
        });
      }
      return new ReadableStream({
        start: (c) => {
          c.enqueue(range.bytes);
          c.close();
        },
      });
    },
  };
}
