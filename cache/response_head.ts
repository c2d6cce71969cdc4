/**
 * Building the response heads the cache sends to clients, and {@link PreparedHit}: a stored
 * response's head kept serialised so a plain hit costs one buffer copy and one write.
 *
 * Fields the cache always owns on the way out: `Content-Length`/`Transfer-Encoding` (framing to
 * this client), `Age` (computed per response), `Via` (this node appended), `X-Cache`, and
 * `Connection` (keep-alive or close for this client); the stored or received values of those are
 * dropped.
 *
 * @module
 */
import { latin1Encode, STATUS_TEXT } from "../http/head_codec.ts";
import type { StoredObject } from "./store/store.ts";
import { appendVia } from "./semantics/mod.ts";

const OWNED = new Set(["content-length", "transfer-encoding", "age", "via", "x-cache", "connection", "keep-alive"]);

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

/** Bodies up to this size are copied behind the head so a hit is one write; larger ones are a second write. */
export const INLINE_BODY_BYTES = 64 * 1024;

/**
 * A stored 2xx response ready to send as a plain `GET` hit to an HTTP/1.1 keep-alive client: the
 * head minus `Age` is serialised once; the full bytes are rebuilt only when the age (in seconds)
 * changes.
 */
export class PreparedHit {
  readonly #prefix: string;
  readonly #body: Uint8Array;
  #age = -1;
  #bytes?: Uint8Array;

  /**
   * @param obj a stored object whose body is in memory
   * @param node this node's name
   * @param xCache the `X-Cache` value
   */
  constructor(obj: StoredObject, node: string, xCache: string) {
    this.#body = obj.body!;
    const head = clientHead({
      status: obj.meta.status,
      headers: obj.meta.headers,
      node,
      xCache,
      framing: { kind: "length", length: this.#body.length },
      close: false,
    });
    this.#prefix = head.slice(0, -2);
  }

  /**
   * The bytes to write for a hit of the given age.
   *
   * @param age the `Age` value in seconds
   * @returns head and body (one buffer for small bodies; head then body for large ones)
   */
  bytes(age: string): Uint8Array[] {
    const n = Number(age);
    if (n === this.#age && this.#bytes) {
      return this.#body.length > INLINE_BODY_BYTES ? [this.#bytes, this.#body] : [this.#bytes];
    }
    const head = latin1Encode(`${this.#prefix}age: ${age}\r\n\r\n`);
    if (this.#body.length > INLINE_BODY_BYTES) {
      this.#bytes = head;
    } else {
      const out = new Uint8Array(head.length + this.#body.length);
      out.set(head);
      out.set(this.#body, head.length);
      this.#bytes = out;
    }
    this.#age = n;
    return this.#body.length > INLINE_BODY_BYTES ? [this.#bytes, this.#body] : [this.#bytes];
  }
}
