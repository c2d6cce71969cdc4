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
  // The native encoder into exactly s.length bytes: for ASCII (where UTF-8 and ISO-8859-1 agree)
  // it reads and writes every char; otherwise the loop below rewrites the window.
  const r = ENCODER.encodeInto(s, out.subarray(offset, offset + s.length));
  if (r.read === s.length && r.written === s.length) return s.length;
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

const UTF8 = new TextDecoder();

/**
 * Common field names by length: a parsed name that matches one (in any case) is this constant
 * instead of a new lower-cased string per message (fewer allocations, and stored objects share
 * their names).
 */
const KNOWN_NAMES: (string[] | undefined)[] = [];
for (
  const n of [
    "host",
    "date",
    "server",
    "content-type",
    "content-length",
    "content-encoding",
    "content-range",
    "content-location",
    "connection",
    "keep-alive",
    "last-modified",
    "cache-control",
    "etag",
    "accept-ranges",
    "expires",
    "age",
    "vary",
    "via",
    "location",
    "user-agent",
    "accept",
    "accept-encoding",
    "accept-language",
    "x-forwarded-for",
    "x-cache",
    "transfer-encoding",
    "pragma",
    "set-cookie",
    "cookie",
    "referer",
    "authorization",
    "range",
    "if-none-match",
    "if-modified-since",
    "expect",
  ]
) (KNOWN_NAMES[n.length] ??= []).push(n);

/** The known name equal to `bytes[from, to)` ignoring ASCII case, if any (the bytes are a token). */
function knownName(bytes: Uint8Array, from: number, to: number): string | undefined {
  const list = KNOWN_NAMES[to - from];
  if (list === undefined) return undefined;
  next: for (const name of list) {
    // Known names are lower-case letters and "-": `| 0x20` folds only A-Z onto them (CR, the one
    // other byte it would fold onto "-", cannot be inside a line).
    for (let j = 0; j < name.length; j++) if ((bytes[from + j] | 0x20) !== name.charCodeAt(j)) continue next;
    return name;
  }
  return undefined;
}

/** A head split into its start line and fields (see {@link scanHead}). */
interface ScannedHead {
  first: string;
  fields: [string, string][];
}

/**
 * Splits a head into its start line and validated fields in one pass over the bytes: lines end
 * with CRLF (a bare CR or LF is an error), field lines are `token ":" OWS value OWS` without
 * obsolete folding or control characters, names are lower-cased, empty lines are skipped. The
 * strings are slices of one decoded copy of the head (ISO-8859-1, one char per byte).
 *
 * @param bytes the head, with or without the final CRLF CRLF
 * @param what "request" or "response", for error messages
 */
function scanHead(bytes: Uint8Array, what: string): ScannedHead {
  let end = bytes.length;
  if (
    end >= 4 && bytes[end - 4] === 13 && bytes[end - 3] === 10 && bytes[end - 2] === 13 && bytes[end - 1] === 10
  ) end -= 4;
  // Line ends, and whether any byte is outside ASCII (then the fast UTF-8 decoder would differ).
  const ends: number[] = [];
  let high = false;
  for (let i = 0; i < end; i++) {
    const c = bytes[i];
    if (c === 13) {
      if (i + 1 < end && bytes[i + 1] === 10) {
        ends.push(i);
        i++;
        continue;
      }
      throw new HttpParseError(`Cannot parse ${what}: bare CR or LF in the head`);
    }
    if (c === 10) throw new HttpParseError(`Cannot parse ${what}: bare CR or LF in the head`);
    if (c >= 128) high = true;
  }
  ends.push(end);
  const text = high ? latin1Decode(bytes.subarray(0, end)) : UTF8.decode(bytes.subarray(0, end));
  const fields: [string, string][] = [];
  let ls = ends[0] + 2;
  for (let li = 1; li < ends.length; li++) {
    const le = ends[li];
    const from = ls;
    ls = le + 2;
    if (le === from) continue;
    const c0 = bytes[from];
    if (c0 === 32 || c0 === 9) throw new HttpParseError(`Cannot parse ${what}: obsolete line folding`);
    let colon = from;
    let upper = false;
    let token = true;
    for (; colon < le; colon++) {
      const c = bytes[colon];
      if (c === 58) break;
      if (c >= 128 || TCHAR[c] === 0) token = false;
      else if (c >= 65 && c <= 90) upper = true;
    }
    if (colon === le || colon === from) {
      const line = text.slice(from, le);
      throw new HttpParseError(`Cannot parse ${what}: field line ${JSON.stringify(line)} has no name`);
    }
    if (!token) {
      const raw = text.slice(from, colon);
      throw new HttpParseError(`Cannot parse ${what}: field name ${JSON.stringify(raw)} is not a token`);
    }
    let a = colon + 1;
    let b = le;
    while (a < b && (bytes[a] === 32 || bytes[a] === 9)) a++;
    while (b > a && (bytes[b - 1] === 32 || bytes[b - 1] === 9)) b--;
    for (let j = a; j < b; j++) {
      const c = bytes[j];
      if ((c < 32 && c !== 9) || c === 127) {
        const raw = text.slice(from, colon);
        throw new HttpParseError(`Cannot parse ${what}: control character in field ${JSON.stringify(raw)}`);
      }
    }
    let name = knownName(bytes, from, colon);
    if (name === undefined) {
      name = text.slice(from, colon);
      if (upper) name = name.toLowerCase();
    }
    fields.push([name, text.slice(a, b)]);
  }
  return { first: text.slice(0, ends[0]), fields };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Whether `s` matches `^HTTP/\d\.\d \d{3}( .*)?$`. */
function isStatusLine(s: string): boolean {
  return s.length >= 12 && s.startsWith("HTTP/") && isDigit(s.charCodeAt(5)) && s.charCodeAt(6) === 46 &&
    isDigit(s.charCodeAt(7)) && s.charCodeAt(8) === 32 && isDigit(s.charCodeAt(9)) && isDigit(s.charCodeAt(10)) &&
    isDigit(s.charCodeAt(11)) && (s.length === 12 || s.charCodeAt(12) === 32);
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
  const { first, fields } = scanHead(bytes, "request");
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
  const headers = new HeaderList(fields);
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
 * @throws {HttpParseError} for a malformed status line or fields, or a status outside 100 to 599
 */
export function parseResponseHead(bytes: Uint8Array): ResponseHead {
  const { first, fields } = scanHead(bytes, "response");
  // `HTTP/d.d SP ddd [SP reason]`, checked by char codes (a regular expression costs more here).
  if (!isStatusLine(first)) {
    throw new HttpParseError(`Cannot parse response: bad status line ${JSON.stringify(first.slice(0, 200))}`);
  }
  const minor = parseVersion(first.slice(0, 8), "response");
  const status = (first.charCodeAt(9) - 48) * 100 + (first.charCodeAt(10) - 48) * 10 + first.charCodeAt(11) - 48;
  // RFC 9110 15: "Values outside the range 100..599 are invalid" (and "004" would be relayed as "4").
  if (status < 100 || status > 599) {
    throw new HttpParseError(`Cannot parse response: status ${first.slice(9, 12)} outside 100 to 599`);
  }
  return { minor, status, reason: first.length > 12 ? first.slice(13) : "", headers: new HeaderList(fields) };
}

/**
 * The Content-Length of a message: every value (repeated fields and comma lists) must be the same
 * decimal number (RFC 9110 8.6, RFC 9112 6.3).
 *
 * @param headers the message fields
 * @param what "request" or "response", for error messages
 * @returns the length, or undefined without a Content-Length field
 * @throws {HttpParseError} for a value that is not 1 to 15 digits, or differing values
 */
export function contentLength(headers: HeaderList, what: string): number | undefined {
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
 * @throws {HttpParseError} for Transfer-Encoding with Content-Length, differing or malformed
 *   Content-Lengths, or a malformed Transfer-Encoding, whether or not the answer has a body
 */
export function responseFraming(head: ResponseHead, method: string): BodyFraming {
  const s = head.status;
  // The framing fields are checked even when the answer has no body (HEAD, 1xx, 204, 304): a
  // proxy relays HEAD's Content-Length, and ambiguous fields there are as suspect as anywhere.
  const chunked = isChunked(head.headers, "response", s);
  const len = contentLength(head.headers, "response");
  if (chunked !== undefined && len !== undefined) {
    throw new HttpParseError("Cannot parse response: both Transfer-Encoding and Content-Length");
  }
  if (method === "HEAD" || (s >= 100 && s < 200) || s === 204 || s === 304) return { kind: "none" };
  if (method === "CONNECT" && s >= 200 && s < 300) return { kind: "none" };
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
