/**
 * `ConnReader`: buffered reading of HTTP messages from a connection — heads up to a size limit,
 * then bodies by their framing — shared by the server and the origin client. Body chunks handed
 * out are copies, so they stay valid after later reads.
 *
 * @module
 */
import { ChunkedDecoder } from "./chunked.ts";
import { type BodyFraming, findHeadEnd, HttpParseError } from "./head_codec.ts";

/** Something to read bytes from (a `Deno.Conn` or a test double). */
export interface ByteSource {
  /** Reads into `p`; resolves to the byte count or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

const INITIAL_BYTES = 16 * 1024;

/** Buffered reader of HTTP messages. */
export class ConnReader {
  readonly #src: ByteSource;
  #buf = new Uint8Array(INITIAL_BYTES);
  #start = 0;
  #end = 0;
  /** Whether the peer closed its sending side. */
  eof = false;
  /** The outstanding read, if any (see {@link fill}). */
  #pending?: Promise<boolean>;

  /**
   * Wraps a connection.
   *
   * @param src the connection
   */
  constructor(src: ByteSource) {
    this.#src = src;
  }

  /** Bytes read but not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Returns the unconsumed bytes (a view) and marks them consumed. */
  takeBuffered(): Uint8Array {
    const out = this.#buf.subarray(this.#start, this.#end);
    this.#start = this.#end = 0;
    return out;
  }

  /** Marks the first `n` buffered bytes as consumed (e.g. a PROXY header). */
  consume(n: number): void {
    this.#start += n;
    if (this.#start >= this.#end) this.#start = this.#end = 0;
  }

  /** A view of the unconsumed bytes. */
  peek(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /**
   * Reads more bytes into the buffer. At most one read is outstanding: a call made while another
   * is still waiting (e.g. the origin pool's watch over an idle connection) shares its result.
   *
   * @param limit largest buffer content allowed; more is an error the caller chooses
   * @returns false at end of stream
   * @throws {RangeError} when the buffer would have to grow beyond `limit`
   */
  fill(limit = Infinity): Promise<boolean> {
    if (this.#pending) return this.#pending;
    if (this.eof) return Promise.resolve(false);
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const used = this.#end - this.#start;
      if (this.#start > 0 && used < this.#buf.length / 2) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const size = Math.min(Math.max(this.#buf.length * 2, INITIAL_BYTES), Math.max(limit + 4, INITIAL_BYTES));
        if (size <= used) throw new RangeError(`Cannot buffer more than ${limit} bytes`);
        const nb = new Uint8Array(size);
        nb.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = nb;
      }
      this.#end = used;
      this.#start = 0;
    }
    const p = this.#src.read(this.#buf.subarray(this.#end)).then((n) => {
      this.#pending = undefined;
      if (n === null) {
        this.eof = true;
        return false;
      }
      this.#end += n;
      return true;
    }, (e) => {
      this.#pending = undefined;
      throw e;
    });
    this.#pending = p;
    return p;
  }

  /** Whether a read started by {@link fill} is still outstanding. */
  get reading(): boolean {
    return this.#pending !== undefined;
  }

  /**
   * Reads one message head.
   *
   * @param maxBytes largest head accepted
   * @param onFirstByte called once the first byte of the head is buffered (to start a header timeout)
   * @returns the head bytes (a view valid until the next read), or null when the stream ended
   *   cleanly before any byte
   * @throws {HttpParseError} 431 when the head exceeds `maxBytes`; 400 when the stream ends inside it
   */
  async readHead(maxBytes: number, onFirstByte?: () => void): Promise<Uint8Array | null> {
    // `checked`: bytes after #start already searched (relative, because fill() may move data).
    let checked = 0;
    let notified = false;
    while (true) {
      // Tolerate CRLF between pipelined messages (RFC 9112 2.2).
      while (
        checked === 0 && this.#end > this.#start && (this.#buf[this.#start] === 13 || this.#buf[this.#start] === 10)
      ) {
        this.#start++;
      }
      if (this.#end > this.#start) {
        if (!notified && onFirstByte) {
          notified = true;
          onFirstByte();
        }
        const at = findHeadEnd(this.#buf, this.#start + Math.max(3, checked), this.#end);
        if (at !== -1) {
          if (at - this.#start > maxBytes) {
            throw new HttpParseError(`Cannot parse head: larger than ${maxBytes} bytes`, 431);
          }
          const head = this.#buf.subarray(this.#start, at);
          this.#start = at;
          return head;
        }
        checked = this.#end - this.#start;
        if (checked > maxBytes) {
          throw new HttpParseError(`Cannot parse head: larger than ${maxBytes} bytes`, 431);
        }
      }
      if (!(await this.fill(maxBytes))) {
        if (this.#end === this.#start) return null;
        throw new HttpParseError("Cannot parse head: connection closed inside the head");
      }
    }
  }

  /**
   * Reads a whole length-delimited body into one new buffer: the buffered part is copied, the rest
   * is read from the connection straight into the result (one copy, no async generator). Returns
   * the buffer without waiting when the whole body is already buffered, the usual case for small
   * responses that arrive with their head.
   *
   * @param length the body length (Content-Length)
   * @returns the body
   * @throws {HttpParseError} when the stream ends before `length` bytes
   */
  readFixed(length: number): Uint8Array | Promise<Uint8Array> {
    // A read already outstanding owns the buffer's free space: let it land first.
    if (this.#pending) return this.#pending.then(() => this.readFixed(length));
    const have = this.#end - this.#start;
    if (have >= length) {
      const out = this.#buf.slice(this.#start, this.#start + length);
      this.consume(length);
      return out;
    }
    const out = new Uint8Array(length);
    out.set(this.#buf.subarray(this.#start, this.#end));
    this.#start = this.#end = 0;
    return this.#readInto(out, have);
  }

  async #readInto(out: Uint8Array, from: number): Promise<Uint8Array> {
    let off = from;
    while (off < out.length) {
      const n = this.eof ? null : await this.#src.read(out.subarray(off));
      if (n === null) {
        this.eof = true;
        throw new HttpParseError(`Cannot read body: connection closed with ${out.length - off} bytes missing`);
      }
      off += n;
    }
    return out;
  }

  /**
   * Reads a body by its framing, yielding copies of the data.
   *
   * @param framing how the body is delimited
   * @throws {HttpParseError} when the stream ends before a length-delimited or chunked body does
   */
  async *body(framing: BodyFraming): AsyncGenerator<Uint8Array> {
    if (framing.kind === "none") return;
    if (framing.kind === "length") {
      let remaining = framing.length;
      while (remaining > 0) {
        if (this.#end === this.#start && !(await this.fill())) {
          throw new HttpParseError(`Cannot read body: connection closed with ${remaining} bytes missing`);
        }
        const take = Math.min(remaining, this.#end - this.#start);
        const out = this.#buf.slice(this.#start, this.#start + take);
        this.consume(take);
        remaining -= take;
        yield out;
      }
      return;
    }
    if (framing.kind === "close") {
      while (true) {
        if (this.#end > this.#start) {
          const out = this.#buf.slice(this.#start, this.#end);
          this.#start = this.#end = 0;
          yield out;
        }
        if (!(await this.fill())) return;
      }
    }
    const dec = new ChunkedDecoder();
    while (true) {
      if (this.#end === this.#start && !(await this.fill())) {
        throw new HttpParseError("Cannot read chunked body: connection closed before the last chunk");
      }
      const view = this.#buf.subarray(this.#start, this.#end);
      const res = dec.push(view);
      const copies = res.data.map((d) => d.slice());
      if (res.done) this.consume(view.length - res.rest.length);
      else this.#start = this.#end = 0;
      for (const c of copies) yield c;
      if (res.done) return;
    }
  }
}
