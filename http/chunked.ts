/**
 * Chunked transfer coding (RFC 9112 7.1): an incremental decoder and the encoder.
 *
 * ```
 * chunked-body = *chunk last-chunk trailer-section CRLF
 * chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF     chunk-size = 1*HEXDIG
 * last-chunk   = 1*("0") [ chunk-ext ] CRLF
 * chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 * trailer-section = *( field-line CRLF )
 * e.g. "5\r\nhello\r\n0\r\n\r\n"
 * ```
 *
 * The decoder is strict, because a proxy and the server behind it must agree on where a body ends
 * (request smuggling, response splitting): whitespace after the size may only lead to `;`
 * (`5 6` is an error), extensions may not hold control characters, every line ends with CRLF
 * (a bare LF or CR is an error), the size is at most 11 hex digits, and trailer lines must be
 * `token ":" value` field lines.
 *
 * The decoder never buffers chunk data: it returns views of the input. Size lines and trailers are
 * limited ({@link MAX_CHUNK_LINE_BYTES}, {@link MAX_TRAILER_BYTES}) so a peer cannot make it buffer
 * without bound; trailers are read and dropped.
 *
 * @module
 */
import { HttpParseError } from "./head_codec.ts";

/** Longest chunk-size line (size plus extensions) accepted, in bytes. */
export const MAX_CHUNK_LINE_BYTES = 4096;
/** Largest trailer section accepted, in bytes. */
export const MAX_TRAILER_BYTES = 16 * 1024;
/** Largest chunk size accepted (2^53 - 1 would lose precision; 2^40 is far beyond any object). */
export const MAX_CHUNK_BYTES = 2 ** 40;

const enum St {
  Size,
  /** Whitespace after the size: only more whitespace or `;` may follow. */
  SizeWs,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  Done,
}

/** Result of one {@link ChunkedDecoder.push}. */
export interface ChunkedOutput {
  /** Decoded data, views into the input. */
  data: Uint8Array[];
  /** Whether the last chunk and trailers have been read. */
  done: boolean;
  /** Bytes after the end of the chunked body (the next pipelined message), when done. */
  rest: Uint8Array;
}

/** Incremental decoder of a chunked body. Feed bytes with {@link ChunkedDecoder.push}. */
export class ChunkedDecoder {
  #st = St.Size;
  #size = 0;
  #sizeDigits = 0;
  #lineBytes = 0;
  #remaining = 0;
  #trailerBytes = 0;
  #trailerLineLen = 0;
  #trailerCr = false;
  /** Whether the current trailer line has passed its colon (its name was a token). */
  #trailerValue = false;

  /** Whether the whole body has been decoded. */
  get done(): boolean {
    return this.#st === St.Done;
  }

  /**
   * Decodes more input.
   *
   * @param input the next bytes of the body
   * @returns the data found and, once done, the bytes that follow the body
   * @throws {HttpParseError} on a malformed size line, missing CRLF or oversized trailer
   */
  push(input: Uint8Array): ChunkedOutput {
    const data: Uint8Array[] = [];
    let i = 0;
    const n = input.length;
    while (i < n && this.#st !== St.Done) {
      const c = input[i];
      switch (this.#st) {
        case St.Size: {
          const d = hexVal(c);
          if (d >= 0) {
            this.#size = this.#size * 16 + d;
            if (++this.#sizeDigits > 11 || this.#size > MAX_CHUNK_BYTES) {
              throw new HttpParseError("Cannot decode chunked body: chunk size too large");
            }
          } else if (this.#sizeDigits === 0) {
            throw new HttpParseError(`Cannot decode chunked body: expected a hex chunk size, got byte ${c}`);
          } else if (c === 59 /* ; */) {
            this.#st = St.Ext;
          } else if (c === 32 || c === 9) {
            this.#st = St.SizeWs;
          } else if (c === 13) {
            this.#st = St.SizeLf;
          } else {
            throw new HttpParseError(`Cannot decode chunked body: bad byte ${c} in chunk size`);
          }
          i++;
          this.#lineBytes++;
          break;
        }
        case St.SizeWs:
          if (c === 59) this.#st = St.Ext;
          else if (c !== 32 && c !== 9) {
            throw new HttpParseError(`Cannot decode chunked body: bad byte ${c} after chunk size`);
          }
          i++;
          if (++this.#lineBytes > MAX_CHUNK_LINE_BYTES) {
            throw new HttpParseError("Cannot decode chunked body: chunk size line too long");
          }
          break;
        case St.Ext:
          if (c === 13) this.#st = St.SizeLf;
          else if ((c < 32 && c !== 9) || c === 127) {
            throw new HttpParseError(`Cannot decode chunked body: control byte ${c} in chunk extension`);
          }
          i++;
          if (++this.#lineBytes > MAX_CHUNK_LINE_BYTES) {
            throw new HttpParseError("Cannot decode chunked body: chunk size line too long");
          }
          break;
        case St.SizeLf:
          if (c !== 10) throw new HttpParseError("Cannot decode chunked body: expected LF after chunk size");
          i++;
          if (this.#size === 0) {
            this.#st = St.Trailer;
            this.#trailerLineLen = 0;
            this.#trailerCr = false;
          } else {
            this.#st = St.Data;
            this.#remaining = this.#size;
          }
          break;
        case St.Data: {
          const take = Math.min(this.#remaining, n - i);
          data.push(input.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#st = St.DataCr;
          break;
        }
        case St.DataCr:
          if (c !== 13) throw new HttpParseError("Cannot decode chunked body: expected CRLF after chunk data");
          this.#st = St.DataLf;
          i++;
          break;
        case St.DataLf:
          if (c !== 10) throw new HttpParseError("Cannot decode chunked body: expected CRLF after chunk data");
          this.#st = St.Size;
          this.#size = 0;
          this.#sizeDigits = 0;
          this.#lineBytes = 0;
          i++;
          break;
        case St.Trailer:
          i++;
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) {
            throw new HttpParseError("Cannot decode chunked body: trailer section too large");
          }
          if (this.#trailerCr) {
            if (c !== 10) throw new HttpParseError("Cannot decode chunked body: bare CR in trailer");
            if (this.#trailerLineLen === 0) this.#st = St.Done;
            else if (!this.#trailerValue) {
              throw new HttpParseError("Cannot decode chunked body: trailer line without a name");
            }
            this.#trailerLineLen = 0;
            this.#trailerCr = false;
            this.#trailerValue = false;
          } else if (c === 13) {
            this.#trailerCr = true;
          } else if (c === 10) {
            throw new HttpParseError("Cannot decode chunked body: bare LF in trailer");
          } else {
            if (this.#trailerValue) {
              if ((c < 32 && c !== 9) || c === 127) {
                throw new HttpParseError(`Cannot decode chunked body: control byte ${c} in trailer`);
              }
            } else if (c === 58 /* : */ && this.#trailerLineLen > 0) {
              this.#trailerValue = true;
            } else if (!isTchar(c)) {
              throw new HttpParseError(`Cannot decode chunked body: bad byte ${c} in trailer field name`);
            }
            this.#trailerLineLen++;
          }
          break;
      }
    }
    return { data, done: this.#st === St.Done, rest: this.#st === St.Done ? input.subarray(i) : new Uint8Array(0) };
  }
}

const TCHARS = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHARS[ch.charCodeAt(0)] = 1;
}

/** Whether byte `c` may be part of an RFC 9110 token. */
function isTchar(c: number): boolean {
  return c < 128 && TCHARS[c] === 1;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const CRLF = new Uint8Array([13, 10]);

/**
 * Encodes one chunk (`<hex size> CRLF data CRLF`). An empty input gives an empty array, never the
 * last chunk (use {@link LAST_CHUNK}).
 *
 * @param data chunk data
 * @returns the encoded chunk
 */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const size = new TextEncoder().encode(data.length.toString(16));
  const out = new Uint8Array(size.length + 2 + data.length + 2);
  out.set(size, 0);
  out.set(CRLF, size.length);
  out.set(data, size.length + 2);
  out.set(CRLF, size.length + 2 + data.length);
  return out;
}

/** The last chunk with an empty trailer section: `0 CRLF CRLF`. */
export const LAST_CHUNK: Uint8Array = new TextEncoder().encode("0\r\n\r\n");
