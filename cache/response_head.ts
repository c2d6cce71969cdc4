/**
 * Building the response heads the cache sends to clients, and {@link PreparedHit}: a stored
 * response's head kept serialised so a plain hit costs one buffer copy and one write.
 *
 * Fields the cache always owns on the way out: `Content-Length`/`Transfer-Encoding` (framing to
 * this client), `Age` (computed per response), `Via` (this node appended), `X-Cache`, and
 * `Connection` (keep-alive or close for this client); the stored or received values of those are
 * dropped.
 *
 * A response sent from storage (a hit of any kind, a revalidated hit, a collapsed client that did
 * not cause the fetch, a copy from a sibling or another worker) never carries `Set-Cookie` or
 * `Set-Cookie2`, even when the origin said `public` (as Squid does): only the client whose request
 * went to the origin gets its cookie. See {@link FROM_STORE_DROPPED}.
 *
 * @module
 */
import { latin1Encode, latin1EncodeInto, STATUS_TEXT } from "../http/head_codec.ts";
import type { StoredObject } from "./store/store.ts";
import { storedHeaderList } from "./store/compact_meta.ts";
import { appendVia, correctedInitialAgeMs } from "./semantics/mod.ts";

const OWNED = new Set(["content-length", "transfer-encoding", "age", "via", "x-cache", "connection", "keep-alive"]);

/** Fields never sent in a response from storage: one client's cookie must not reach another. */
export const FROM_STORE_DROPPED: ReadonlySet<string> = new Set(["set-cookie", "set-cookie2"]);

/**
 * A header list without {@link FROM_STORE_DROPPED} fields (the list itself when it has none).
 *
 * @param headers response fields with lower-case names
 * @returns the fields a response from storage may carry
 */
export function withoutCookies<T extends readonly (readonly [string, string])[]>(headers: T): T {
  if (!headers.some(([k]) => FROM_STORE_DROPPED.has(k))) return headers;
  return headers.filter(([k]) => !FROM_STORE_DROPPED.has(k)) as unknown as T;
}

/**
 * Whether a peer's answer may have come from its storage, so its Set-Cookie is not this client's:
 * every sibling answer (siblings are only asked for hits), and an answer of any other peer
 * (parent, hash owner: `PARENT_HIT`, `FIRST_UP_PARENT`, `FIRST_PARENT_MISS`, `CARP`, ...) unless
 * it says `X-Cache: MISS…` (a miss was fetched for this client, whose cookie it is). Without an
 * `X-Cache` field the answer counts as a copy: when in doubt, the cookie is dropped.
 *
 * @param hierarchy the Squid hierarchy code of the answer (`HIER_DIRECT` for the origin)
 * @param xCache the answer's `X-Cache` field
 * @returns true when its Set-Cookie must not be passed on
 */
export function peerCopy(hierarchy: string, xCache: string | null): boolean {
  if (hierarchy === "HIER_DIRECT" || hierarchy === "HIER_NONE") return false;
  if (hierarchy === "SIBLING_HIT") return true;
  return !/^\s*MISS\b/i.test(xCache ?? "");
}

/** How the body of a client response is framed. */
export type ClientFraming =
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" }
  | { kind: "none" };

/** Inputs of {@link clientHead}. */
export interface ClientHeadInput {
  status: number;
  reason?: string;
  /** Response fields (hop-by-hop already removed). */
  headers: readonly (readonly [string, string])[];
  /** This node's name, for `Via`. */
  node: string;
  /** `X-Cache` value, e.g. `HIT from cache1`. */
  xCache: string;
  /** `Age` in seconds, when the response comes from cache. */
  age?: string;
  /** Extra fields (e.g. `content-range`). */
  extra?: readonly (readonly [string, string])[];
  framing: ClientFraming;
  /** Close the connection after this response. */
  close: boolean;
  /** The client is HTTP/1.0 and asked for keep-alive (send `Connection: keep-alive`). */
  keepAlive10?: boolean;
  /**
   * The response comes from storage or from a fetch another client caused: `Set-Cookie` and
   * `Set-Cookie2` are dropped.
   */
  fromStore?: boolean;
  /**
   * Further fields (lower-case) this client must not get: those a qualified `private="…"` or
   * `no-cache="…"` kept from storage (RFC 9111 §5.2.2.4, §5.2.2.7), for a client that did not
   * cause the fetch.
   */
  drop?: readonly string[];
}

/**
 * Serialises a response head for a client.
 *
 * @param h status, fields and framing
 * @returns the head text ending with CRLF CRLF
 */
export function clientHead(h: ClientHeadInput): string {
  let s = `HTTP/1.1 ${h.status} ${h.reason || STATUS_TEXT[h.status] || ""}\r\n`;
  let via: string | null = null;
  for (const [k, v] of h.headers) {
    if (h.fromStore && FROM_STORE_DROPPED.has(k)) continue;
    if (h.drop !== undefined && h.drop.includes(k)) continue;
    if (OWNED.has(k)) {
      if (k === "via") via = via === null ? v : `${via}, ${v}`;
      continue;
    }
    s += `${k}: ${v}\r\n`;
  }
  for (const [k, v] of h.extra ?? []) s += `${k}: ${v}\r\n`;
  if (h.age !== undefined) s += `age: ${h.age}\r\n`;
  s += `via: ${appendVia(via, "1.1", h.node)}\r\nx-cache: ${h.xCache}\r\n`;
  if (h.framing.kind === "length") s += `content-length: ${h.framing.length}\r\n`;
  else if (h.framing.kind === "chunked") s += "transfer-encoding: chunked\r\n";
  if (h.close) s += "connection: close\r\n";
  else if (h.keepAlive10) s += "connection: keep-alive\r\n";
  return s + "\r\n";
}

/**
 * A head and a small body in one buffer, for one write: built in `scratch` (the connection's
 * reusable buffer, valid until its next write resolves) when given, so nothing is allocated.
 *
 * @param head the head text (from {@link clientHead})
 * @param body the body
 * @param scratch gives a reusable buffer of at least the requested size (a `ServerResponse`)
 * @returns head bytes followed by the body
 */
export function headWithBody(
  head: string,
  body: Uint8Array,
  scratch?: { scratch(size: number): Uint8Array },
): Uint8Array {
  const total = head.length + body.length; // ISO-8859-1: one byte per char
  const out = scratch ? scratch.scratch(total).subarray(0, total) : new Uint8Array(total);
  latin1EncodeInto(head, out);
  out.set(body, head.length);
  return out;
}

/** Bodies up to this size are copied behind the head so a hit is one write; larger ones are a second write. */
export const INLINE_BODY_BYTES = 64 * 1024;

/** A reusable output buffer of at least the requested size (a `ServerResponse`). */
export interface Scratch {
  scratch(size: number): Uint8Array;
}

/**
 * Writes `head` into the headroom before `body` (see `StoredObject.takeHeadroom`) and returns
 * head and body as one view, or undefined when the object has no headroom left or too little.
 *
 * @param obj the stored object whose body is sent
 * @param body `obj.body` or a subarray of it starting at its first byte
 * @param head the response head
 * @returns head and body in one buffer, the body not copied
 */
export function headInRoom(obj: StoredObject, body: Uint8Array, head: Uint8Array): Uint8Array | undefined {
  if (!obj.takeHeadroom || !obj.body || body.byteOffset !== obj.body.byteOffset) return undefined;
  const room = obj.takeHeadroom();
  if (room < head.length) return undefined;
  const out = new Uint8Array(body.buffer, body.byteOffset - head.length, head.length + body.length);
  out.set(head);
  return out;
}

/**
 * A stored 2xx response ready to send as a plain `GET` hit to an HTTP/1.1 keep-alive client: the
 * head minus `Age` is serialised and encoded once; a hit copies it, writes the age digits and
 * appends the body (one buffer for bodies up to {@link INLINE_BODY_BYTES}). The last buffer is
 * reused while the age (in seconds) stays the same.
 *
 * One `PreparedHit` serves every object that shares its metadata: a memory tier returns the same
 * object each time, a disk tier a new object (and body) per read of the same file version, with
 * the same `meta`. A disk tier's body is written to the client behind the head in the object's
 * headroom (one write, no copy of the body) and never kept here: it is a view into a read buffer
 * that this would keep alive.
 */
export class PreparedHit {
  readonly #prefix: Uint8Array;
  /** The body of a memory tier's object (kept with its cached buffer); undefined for disk objects. */
  readonly #body: Uint8Array | undefined;
  readonly #bodyBytes: number;
  #age = -1;
  #seenAge = -1;
  #bytes?: Uint8Array;
  /** The response's `Content-Type`, `-` when none (for the access log). */
  readonly contentType: string;
  /** Whether the stored response says `no-cache` (then it may never be served without revalidation). */
  readonly noCache: boolean;
  /** The stored response's corrected initial age (RFC 9111 §4.2.3), fixed for its metadata. */
  readonly #initialAgeMs: number;
  readonly #responseTime: number;

  /**
   * Serialises the head of a stored object.
   *
   * @param obj a stored object whose body is in memory
   * @param node this node's name
   * @param xCache the `X-Cache` value
   */
  constructor(obj: StoredObject, node: string, xCache: string) {
    this.#bodyBytes = obj.body!.length;
    this.#body = obj.tier === "disk" ? undefined : obj.body;
    // Read once here and dropped: a memory object served by fast hits keeps its compact form.
    const headers = storedHeaderList(obj.meta);
    const head = clientHead({
      status: obj.meta.status,
      headers,
      node,
      xCache,
      framing: { kind: "length", length: this.#bodyBytes },
      close: false,
      fromStore: true,
    });
    this.#prefix = latin1Encode(head.slice(0, -2) + "age: ");
    this.contentType = headers.find(([k]) => k === "content-type")?.[1] ?? "-";
    // Conservative: any cache-control field (Cache-Control or a targeted one such as
    // CDN-Cache-Control, RFC 9213) mentioning no-cache sends hits through the full evaluation.
    this.noCache = headers.some(([k, v]) => k.endsWith("cache-control") && /no-cache/i.test(v));
    const { requestTime, responseTime } = obj.meta;
    this.#initialAgeMs = correctedInitialAgeMs({ headers, requestTime, responseTime });
    this.#responseTime = obj.meta.responseTime;
  }

  /**
   * The object's current age (RFC 9111 §4.2.3) as `currentAgeMs(obj.meta, now)` gives it, without
   * parsing its `Date` and `Age` fields again on every hit.
   *
   * @param now current time, ms since epoch
   * @returns the current age in ms
   */
  ageMs(now: number): number {
    return this.#initialAgeMs + Math.max(0, now - this.#responseTime);
  }

  /**
   * The bytes to write for a hit of the given age.
   *
   * The first hit at a new age is built in `scratch` (the connection's reusable buffer), so
   * objects hit rarely (most of a large working set) allocate nothing; a second hit at the same
   * age builds a buffer of its own that later hits of that second reuse as it is (hot objects).
   * A disk object (`obj`, read for this hit) goes out in its headroom when it has some, else
   * through `scratch` (small bodies behind the head, large ones as a second buffer).
   *
   * @param age the `Age` in whole seconds
   * @param scratch gives a reusable buffer of at least the requested size (a `ServerResponse`)
   * @param obj the object read for this hit when it is a disk tier's (same metadata, new body)
   * @returns head and body (one buffer for small bodies or a body with headroom; head then body
   *   for large ones)
   */
  bytes(age: number, scratch?: Scratch, obj?: StoredObject): Uint8Array[] {
    const body = this.#body ?? obj?.body;
    if (!body || body.length !== this.#bodyBytes) {
      throw new TypeError("Cannot send hit: no body of the prepared length");
    }
    const inline = body.length <= INLINE_BODY_BYTES;
    const stable = body === this.#body;
    if (stable && age === this.#age && this.#bytes) return inline ? [this.#bytes] : [this.#bytes, body];
    const digits = String(age);
    const headLen = this.#prefix.length + digits.length + 4;
    if (!stable && obj?.takeHeadroom) {
      const room = obj.takeHeadroom();
      if (room >= headLen) {
        const out = new Uint8Array(body.buffer, body.byteOffset - headLen, headLen + body.length);
        this.#writeHead(out, digits);
        return [out];
      }
    }
    const total = headLen + (inline ? body.length : 0);
    const reuse = scratch !== undefined && (!stable || age !== this.#seenAge);
    if (stable) this.#seenAge = age;
    const out = reuse ? scratch.scratch(total).subarray(0, total) : new Uint8Array(total);
    this.#writeHead(out, digits);
    if (inline) out.set(body, headLen);
    if (!reuse && stable) {
      this.#bytes = out;
      this.#age = age;
    }
    return inline ? [out] : [out, body];
  }

  #writeHead(out: Uint8Array, digits: string): void {
    out.set(this.#prefix);
    let at = this.#prefix.length;
    for (let i = 0; i < digits.length; i++) out[at++] = digits.charCodeAt(i);
    out[at++] = 13;
    out[at++] = 10;
    out[at++] = 13;
    out[at++] = 10;
  }
}
