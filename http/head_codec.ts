/**
 * A pure HTTP/1.1 message-head codec (RFC 9112): request line, status line and header section,
 * message body framing, and head serialisation. No I/O: the server and the origin client feed it
 * bytes they have read.
 *
 * Wire format of a head (RFC 9112 2.1), every line ended by CRLF:
 *
 * ```
 * request-line  = method SP request-target SP HTTP-version CRLF      e.g. "GET /a HTTP/1.1"
 * status-line   = HTTP-version SP status-code SP [ reason-phrase ] CRLF
 * field-line    = field-name ":" OWS field-value OWS CRLF              (no space before ":")
 * head          = start-line *( field-line ) CRLF
 * ```
 *
 * Strictness (each rule closes a request-smuggling or cache-poisoning hole):
 * - a field name must be a token and be followed directly by `:` (whitespace before the colon is
 *   rejected, RFC 9112 5.1); obsolete line folding is rejected (RFC 9112 5.2);
 * - CR, LF and NUL are not allowed inside a field value;
 * - a request with both `Transfer-Encoding` and `Content-Length`, with a `Transfer-Encoding` whose
 *   final coding is not `chunked`, or with several `Content-Length` values that differ is rejected
 *   (RFC 9112 6.1 and 6.3);
 * - HTTP/1.1 requests need exactly one `Host` (RFC 9112 3.2).
 *
 * Bytes are decoded as ISO-8859-1 and encoded back the same way, so any octet in a field value
 * survives a round trip through the proxy unchanged.
 *
 * @module
 */
import { HeaderList } from "./header_list.ts";

/**
 * Malformed or unacceptable HTTP input. `status` is the response a server should send
 * (400 malformed, 431 header section too large, 501 unknown transfer coding, 505 version).
 */
export class HttpParseError extends SyntaxError {
  /** HTTP status to answer with. */
  readonly status: number;
  /**
   * Creates the error.
   *
   * @param message what was wrong, e.g. `Cannot parse request: header name "a b" is not a token`
   * @param status response status for the peer
   */
  constructor(message: string, status = 400) {
    super(message);
    this.name = "HttpParseError";
    this.status = status;
  }
}

/** A parsed request head. */
export interface RequestHead {
  /** Request method, case-sensitive (`GET`). */
  method: string;
  /** request-target as sent: origin-form `/p?q`, absolute-form `http://h/p`, authority-form `h:443` or `*`. */
  target: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Fields in wire order, names lower-case. */
  headers: HeaderList;
}

/** A parsed response head. */
export interface ResponseHead {
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Status code. */
  status: number;
  /** Reason phrase (may be empty). */
  reason: string;
  /** Fields in wire order, names lower-case. */
  headers: HeaderList;
}

/** How the body of a message is delimited (RFC 9112 6.3). */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** Whether `s` is an RFC 9110 token (methods, field names, transfer codings). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Decodes bytes as ISO-8859-1 (one char per byte).
 *
 * @param bytes input
 * @returns a string whose char codes are the bytes
 */
export function latin1Decode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

// deno-lint-ignore no-control-regex -- control characters are what is being matched
const ASCII = /^[\x00-\x7f]*$/;
const ENCODER = new TextEncoder();

/**
 * Encodes a string as ISO-8859-1; chars above 0xFF become `?`.
 *
 * @param s input
 * @returns one byte per char
 */
export function latin1Encode(s: string): Uint8Array {
  // Heads are nearly always ASCII, where UTF-8 and ISO-8859-1 agree and the native encoder wins.
  if (ASCII.test(s)) return ENCODER.encode(s);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = c > 0xff ? 0x3f : c;
  }
  return out;
}

/**
 * Encodes a string as ISO-8859-1 into `out` at `offset` (as {@link latin1Encode}, without
 * allocating); `out` must have room for `s.length` bytes.
 *
 * @param s input
 * @param out destination
 * @param offset where to start in `out`
 * @returns the number of bytes written (`s.length`)
 * @throws {RangeError} when `out` is too small
 */
export function latin1EncodeInto(s: string, out: Uint8Array, offset = 0): number {
  if (out.length - offset < s.length) {
    throw new RangeError(`Cannot encode ${s.length} chars into ${out.length - offset} bytes`);
  }
  if (ASCII.test(s)) return ENCODER.encodeInto(s, offset ? out.subarray(offset) : out).written;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[offset + i] = c > 0xff ? 0x3f : c;
  }
  return s.length;
}

/**
 * Finds the end of a head: the index just past the first CRLF CRLF in `buf[from, to)`.
 *
 * @param buf buffer
 * @param from where to start searching (rescan up to 3 bytes before new data)
 * @param to end of valid data
 * @returns index after the blank line, or -1 if not yet complete
 */
export function findHeadEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(from, 3); i < to; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

function parseFields(lines: string[], what: string): HeaderList {
  const fields: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.length === 0) continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) throw new HttpParseError(`Cannot parse ${what}: obsolete line folding`);
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpParseError(`Cannot parse ${what}: field line ${JSON.stringify(line)} has no name`);
    const name = line.slice(0, colon);
    if (!isToken(name)) {
      throw new HttpParseError(`Cannot parse ${what}: field name ${JSON.stringify(name)} is not a token`);
    }
    let a = colon + 1;
    let b = line.length;
    while (a < b && (line.charCodeAt(a) === 32 || line.charCodeAt(a) === 9)) a++;
    while (b > a && (line.charCodeAt(b - 1) === 32 || line.charCodeAt(b - 1) === 9)) b--;
    const value = line.slice(a, b);
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if (c === 0 || c === 13 || c === 10 || (c < 32 && c !== 9) || c === 127) {
        throw new HttpParseError(`Cannot parse ${what}: control character in field ${JSON.stringify(name)}`);
      }
    }
    fields.push([name.toLowerCase(), value]);
  }
  return new HeaderList(fields);
}

function splitLines(bytes: Uint8Array, what: string): string[] {
  const text = latin1Decode(bytes);
  const end = text.endsWith("\r\n\r\n") ? text.length - 4 : text.length;
  const lines = text.slice(0, end).split("\r\n");
  for (const l of lines) {
    if (l.indexOf("\n") !== -1 || l.indexOf("\r") !== -1) {
      throw new HttpParseError(`Cannot parse ${what}: bare CR or LF in the head`);
    }
  }
  return lines;
}

function parseVersion(v: string, what: string): 0 | 1 {
  if (v === "HTTP/1.1") return 1;
  if (v === "HTTP/1.0") return 0;
  if (/^HTTP\/\d\.\d$/.test(v)) throw new HttpParseError(`Cannot parse ${what}: unsupported version "${v}"`, 505);
  throw new HttpParseError(`Cannot parse ${what}: bad version ${JSON.stringify(v)}`);
}

/**
 * Parses a request head (request line and fields, ending with the blank line or not).
 *
 * @param bytes the head, e.g. as delimited by {@link findHeadEnd}
 * @returns the parsed head
 * @throws {HttpParseError} status 400 for malformed input, 505 for other HTTP versions
 * @example
 * ```ts
 * parseRequestHead(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).method; // "GET"
 * ```
 */
export function parseRequestHead(bytes: Uint8Array): RequestHead {
  const lines = splitLines(bytes, "request");
  const first = lines[0];
  const sp1 = first.indexOf(" ");
  const sp2 = first.lastIndexOf(" ");
  if (sp1 <= 0 || sp2 === sp1) {
    throw new HttpParseError(`Cannot parse request: bad request line ${JSON.stringify(first.slice(0, 200))}`);
  }
  const method = first.slice(0, sp1);
  const target = first.slice(sp1 + 1, sp2);
  if (!isToken(method)) {
    throw new HttpParseError(`Cannot parse request: method ${JSON.stringify(method)} is not a token`);
  }
  // deno-lint-ignore no-control-regex -- control characters are what is being matched
  if (target.length === 0 || /[\s\x00-\x1f\x7f]/.test(target)) {
    throw new HttpParseError(`Cannot parse request: bad request target ${JSON.stringify(target.slice(0, 200))}`);
  }
  const minor = parseVersion(first.slice(sp2 + 1), "request");
  const headers = parseFields(lines, "request");
  const hosts = headers.getAll("host");
  if (hosts.length > 1) throw new HttpParseError("Cannot parse request: more than one Host field");
  if (minor === 1 && hosts.length === 0) throw new HttpParseError("Cannot parse request: HTTP/1.1 without Host");
  return { method, target, minor, headers };
}

/**
 * Parses a response head.
 *
 * @param bytes the head
 * @returns the parsed head
 * @throws {HttpParseError} for a malformed status line or fields
 */
export function parseResponseHead(bytes: Uint8Array): ResponseHead {
  const lines = splitLines(bytes, "response");
  const first = lines[0];
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(first);
  if (!m) throw new HttpParseError(`Cannot parse response: bad status line ${JSON.stringify(first.slice(0, 200))}`);
  const minor = parseVersion(m[1], "response");
  return { minor, status: Number(m[2]), reason: m[3] ?? "", headers: parseFields(lines, "response") };
}

function contentLength(headers: HeaderList, what: string): number | undefined {
  const values = headers.getAll("content-length");
  if (values.length === 0) return undefined;
  let len: number | undefined;
  for (const v of values) {
    for (const part of v.split(",")) {
      const p = part.trim();
      if (!/^\d{1,15}$/.test(p)) throw new HttpParseError(`Cannot parse ${what}: bad Content-Length "${p}"`);
      const n = Number(p);
      if (len !== undefined && len !== n) {
        throw new HttpParseError(`Cannot parse ${what}: conflicting Content-Length values ${len} and ${n}`);
      }
      len = n;
    }
  }
  return len;
}

function isChunked(headers: HeaderList, what: string, status: number): boolean | undefined {
  const te = headers.get("transfer-encoding");
  if (te === null) return undefined;
  const codings = te.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (codings.length === 0) throw new HttpParseError(`Cannot parse ${what}: empty Transfer-Encoding`);
  for (const c of codings) {
    if (!isToken(c.split(";")[0].trim())) throw new HttpParseError(`Cannot parse ${what}: bad transfer coding "${c}"`);
  }
  const last = codings[codings.length - 1];
  if (codings.slice(0, -1).includes("chunked")) {
    throw new HttpParseError(`Cannot parse ${what}: chunked applied more than once`);
  }
  if (last !== "chunked") {
    if (status === 0) throw new HttpParseError(`Cannot parse request: final transfer coding "${last}" is not chunked`);
    return false;
  }
  for (const c of codings.slice(0, -1)) {
    if (!["gzip", "deflate", "compress", "x-gzip"].includes(c)) {
      throw new HttpParseError(`Cannot parse ${what}: unknown transfer coding "${c}"`, 501);
    }
  }
  return true;
}

/**
 * Decides how a request body is delimited, rejecting ambiguous framing (request smuggling).
 *
 * @param head a parsed request head
 * @returns the framing; `none` when there is no body
 * @throws {HttpParseError} for Transfer-Encoding with Content-Length, differing Content-Lengths,
 *   Transfer-Encoding on HTTP/1.0, or a final coding other than chunked
 */
export function requestFraming(head: RequestHead): BodyFraming {
  const chunked = isChunked(head.headers, "request", 0);
  const len = contentLength(head.headers, "request");
  if (chunked !== undefined) {
    if (len !== undefined) throw new HttpParseError("Cannot parse request: both Transfer-Encoding and Content-Length");
    if (head.minor === 0) throw new HttpParseError("Cannot parse request: Transfer-Encoding in HTTP/1.0");
    return { kind: "chunked" };
  }
  if (len === undefined || len === 0) return { kind: "none" };
  return { kind: "length", length: len };
}

/**
 * Decides how a response body is delimited (RFC 9112 6.3).
 *
 * @param head a parsed response head
 * @param method the request method (HEAD responses and 2xx to CONNECT have no body)
 * @returns the framing
 * @throws {HttpParseError} for Transfer-Encoding with Content-Length or differing Content-Lengths
 */
export function responseFraming(head: ResponseHead, method: string): BodyFraming {
  const s = head.status;
  if (method === "HEAD" || (s >= 100 && s < 200) || s === 204 || s === 304) return { kind: "none" };
  if (method === "CONNECT" && s >= 200 && s < 300) return { kind: "none" };
  const chunked = isChunked(head.headers, "response", s);
  const len = contentLength(head.headers, "response");
  if (chunked !== undefined && len !== undefined) {
    throw new HttpParseError("Cannot parse response: both Transfer-Encoding and Content-Length");
  }
  if (chunked === true) return { kind: "chunked" };
  if (chunked === false) return { kind: "close" };
  if (len !== undefined) return { kind: "length", length: len };
  return { kind: "close" };
}

/** Reason phrases for the status codes the proxy produces or commonly relays. */
export const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  200: "OK",
  203: "Non-Authoritative Information",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  416: "Range Not Satisfiable",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/**
 * Serialises a response head (status line, fields, blank line) to a string of ISO-8859-1 chars.
 *
 * @param status status code
 * @param headers fields in order
 * @param reason reason phrase; default from {@link STATUS_TEXT}
 * @returns the head text, ending with CRLF CRLF
 */
export function serializeResponseHead(
  status: number,
  headers: Iterable<readonly [string, string]>,
  reason?: string,
): string {
  let s = `HTTP/1.1 ${status} ${reason ?? STATUS_TEXT[status] ?? ""}\r\n`;
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`;
  return s + "\r\n";
}

/**
 * Serialises a request head.
 *
 * @param method request method
 * @param target request target
 * @param headers fields in order
 * @returns the head text, ending with CRLF CRLF
 */
export function serializeRequestHead(
  method: string,
  target: string,
  headers: Iterable<readonly [string, string]>,
): string {
  let s = `${method} ${target} HTTP/1.1\r\n`;
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`;
  return s + "\r\n";
}
