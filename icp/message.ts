/**
 * Pure codec for ICP version 2 messages (RFC 2186 section 1.1). No sockets, clocks or logs:
 * {@link decodeIcpMessage} maps one UDP datagram to a typed message or throws an
 * {@link IcpDecodeError}; {@link encodeIcpMessage} maps a message back to bytes.
 *
 * Every message is a 20-byte header followed by a payload. All integers are big-endian (network
 * byte order).
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+-------------------------------+
 * |    Opcode     |    Version    |        Message Length         |  bytes 0-3
 * +---------------+---------------+-------------------------------+
 * |                        Request Number                         |  bytes 4-7
 * +---------------------------------------------------------------+
 * |                            Options                            |  bytes 8-11
 * +---------------------------------------------------------------+
 * |                          Option Data                          |  bytes 12-15
 * +---------------------------------------------------------------+
 * |                      Sender Host Address                      |  bytes 16-19
 * +---------------------------------------------------------------+
 * |                                                               |
 * |                 Payload (Message Length - 20 bytes)           |
 * |                                                               |
 * +---------------------------------------------------------------+
 * ```
 *
 * - Opcode: see `opcode.ts`. Version: always 2 (RFC 2186; Squid's `ICP_VERSION_2`).
 * - Message Length: the whole message, header included. It must equal the datagram length.
 * - Request Number: chosen by the querier, echoed unchanged in the reply; matches replies to queries.
 * - Options / Option Data: flags `ICP_FLAG_HIT_OBJ` (0x80000000) and `ICP_FLAG_SRC_RTT` (0x40000000,
 *   option data then carries an RTT in its low 16 bits). We send 0 and never honour HIT_OBJ.
 * - Sender Host Address: the sender's IPv4 address. Unreliable (Squid sends 0); receivers use the
 *   UDP source address instead.
 *
 * QUERY payload (RFC 2186: "Requester Host Address" then the URL):
 *
 * ```text
 * +---------------------------------------------------------------+
 * |                   Requester Host Address                      |  bytes 20-23
 * +---------------------------------------------------------------+
 * |  URL (ASCII) ...                                        | NUL |  bytes 24-(length-1)
 * +---------------------------------------------------------------+
 * ```
 *
 * Reply payload (HIT, MISS, MISS_NOFETCH, ERR, DENIED, SECHO, DECHO): the URL of the query,
 * NUL-terminated, starting at byte 20. Bytes after the NUL (inside Message Length) are ignored, as
 * Squid does, since they were only ever used by the removed HIT_OBJ.
 *
 * @module
 */
import { IcpOpcode, opcodeName, REPLY_OPCODES } from "./opcode.ts";

/** Size of the ICP header in bytes. */
export const ICP_HEADER_BYTES = 20;
/** The only ICP version spoken (RFC 2186). */
export const ICP_VERSION = 2;
/**
 * Longest URL accepted or sent, in bytes: Squid's `MAX_URL` (8192). Longer URLs are refused by
 * Squid anyway, and a bound keeps one datagram from tying up a parser with megabytes.
 */
export const MAX_ICP_URL_BYTES = 8192;
/** Option flag: the querier would accept the object in the reply (HIT_OBJ; refused here). */
export const ICP_FLAG_HIT_OBJ = 0x80000000;
/** Option flag: the querier asks for the replier's RTT to the origin (in Option Data). */
export const ICP_FLAG_SRC_RTT = 0x40000000;

/** Why a datagram could not be decoded; used as the `reason` label of the drop counter. */
export type IcpDecodeReason =
  | "short"
  | "version"
  | "length"
  | "opcode"
  | "hit_obj"
  | "no_nul"
  | "empty_url"
  | "url_too_long"
  | "bad_url";

/** A malformed ICP datagram. `offset` is the byte at which decoding failed. */
export class IcpDecodeError extends SyntaxError {
  /** Byte offset in the datagram where the problem was found. */
  readonly offset: number;
  /** Short machine-readable reason (metrics label). */
  readonly reason: IcpDecodeReason;

  /**
   * @param detail what is wrong, without the common prefix
   * @param offset byte offset of the problem
   * @param reason machine-readable reason
   */
  constructor(detail: string, offset: number, reason: IcpDecodeReason) {
    super(`Cannot decode ICP message: ${detail}`);
    this.name = "IcpDecodeError";
    this.offset = offset;
    this.reason = reason;
  }
}

/** Header fields common to every ICP message. */
export interface IcpHeader {
  /** Request number, 0 to 2^32-1; replies echo the query's. */
  requestNumber: number;
  /** Option flags (unsigned 32-bit). */
  options: number;
  /** Option data (unsigned 32-bit). */
  optionData: number;
  /** Sender host address as dotted-quad IPv4 (`0.0.0.0` when not given). */
  senderAddress: string;
}

/** An ICP_OP_QUERY. */
export interface IcpQuery extends IcpHeader {
  opcode: typeof IcpOpcode.QUERY;
  /** Requester host address (the client of the querying cache), dotted quad; often `0.0.0.0`. */
  requesterAddress: string;
  /** The URL asked about. */
  url: string;
}

/** Opcodes of replies. */
export type IcpReplyOpcode =
  | typeof IcpOpcode.HIT
  | typeof IcpOpcode.MISS
  | typeof IcpOpcode.ERR
  | typeof IcpOpcode.SECHO
  | typeof IcpOpcode.DECHO
  | typeof IcpOpcode.MISS_NOFETCH
  | typeof IcpOpcode.DENIED;

/** A reply to a query. */
export interface IcpReply extends IcpHeader {
  opcode: IcpReplyOpcode;
  /** The URL of the query being answered. */
  url: string;
}

/** Any ICP message this codec handles. */
export type IcpMessage = IcpQuery | IcpReply;

const URL_DECODER = new TextDecoder("utf-8", { fatal: true });
const URL_ENCODER = new TextEncoder();

function readIpv4(view: DataView, offset: number): string {
  return `${view.getUint8(offset)}.${view.getUint8(offset + 1)}.${view.getUint8(offset + 2)}.${
    view.getUint8(offset + 3)
  }`;
}

function readUrl(bytes: Uint8Array, start: number, end: number): string {
  if (start >= end) throw new IcpDecodeError(`no URL: payload ends at byte ${end}`, start, "no_nul");
  const nul = bytes.subarray(start, end).indexOf(0);
  if (nul < 0) {
    throw new IcpDecodeError(`URL starting at byte ${start} has no NUL terminator before byte ${end}`, end, "no_nul");
  }
  if (nul === 0) throw new IcpDecodeError(`empty URL at byte ${start}`, start, "empty_url");
  if (nul > MAX_ICP_URL_BYTES) {
    throw new IcpDecodeError(`URL of ${nul} bytes is longer than ${MAX_ICP_URL_BYTES}`, start, "url_too_long");
  }
  const raw = bytes.subarray(start, start + nul);
  for (let i = 0; i < raw.length; i++) {
    // Control characters and spaces never appear in a URL on the wire (Squid answers ERR for them).
    if (raw[i] <= 0x20 || raw[i] === 0x7f) {
      throw new IcpDecodeError(
        `URL has byte 0x${raw[i].toString(16).padStart(2, "0")} at ${start + i}`,
        start + i,
        "bad_url",
      );
    }
  }
  try {
    return URL_DECODER.decode(raw);
  } catch {
    throw new IcpDecodeError(`URL at byte ${start} is not valid UTF-8`, start, "bad_url");
  }
}

/**
 * Decodes one ICP datagram.
 *
 * @param bytes the whole UDP payload
 * @returns the message
 * @throws {IcpDecodeError} when the datagram is shorter than the header, its length field disagrees
 *   with the datagram, the version is not 2, the opcode is unknown, reserved or HIT_OBJ, or the URL
 *   is missing, empty, unterminated, too long, or contains control characters
 * @example
 * ```ts
 * const msg = decodeIcpMessage(datagram);
 * if (msg.opcode === IcpOpcode.QUERY) console.log(msg.url);
 * ```
 */
export function decodeIcpMessage(bytes: Uint8Array): IcpMessage {
  if (bytes.length < ICP_HEADER_BYTES) {
    throw new IcpDecodeError(`length ${bytes.length} is less than header size ${ICP_HEADER_BYTES}`, 0, "short");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const opcode = view.getUint8(0);
  const version = view.getUint8(1);
  if (version !== ICP_VERSION) {
    throw new IcpDecodeError(`version ${version} is not ${ICP_VERSION}`, 1, "version");
  }
  const length = view.getUint16(2);
  if (length !== bytes.length) {
    throw new IcpDecodeError(`length field ${length} disagrees with datagram length ${bytes.length}`, 2, "length");
  }
  if (opcode === IcpOpcode.HIT_OBJ) {
    throw new IcpDecodeError("opcode HIT_OBJ (23) is not supported", 0, "hit_obj");
  }
  if (opcode !== IcpOpcode.QUERY && !REPLY_OPCODES.has(opcode)) {
    throw new IcpDecodeError(`opcode ${opcode} (${opcodeName(opcode)}) is not supported`, 0, "opcode");
  }
  const header: IcpHeader = {
    requestNumber: view.getUint32(4),
    options: view.getUint32(8),
    optionData: view.getUint32(12),
    senderAddress: readIpv4(view, 16),
  };
  if (opcode === IcpOpcode.QUERY) {
    if (length < ICP_HEADER_BYTES + 4) {
      throw new IcpDecodeError(
        `QUERY of length ${length} has no room for the requester address (needs ${ICP_HEADER_BYTES + 4})`,
        ICP_HEADER_BYTES,
        "short",
      );
    }
    const requesterAddress = readIpv4(view, ICP_HEADER_BYTES);
    const url = readUrl(bytes, ICP_HEADER_BYTES + 4, length);
    return { opcode: IcpOpcode.QUERY, ...header, requesterAddress, url };
  }
  const url = readUrl(bytes, ICP_HEADER_BYTES, length);
  return { opcode: opcode as IcpReplyOpcode, ...header, url };
}

function writeIpv4(view: DataView, offset: number, addr: string, field: string): void {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(addr);
  const parts = m ? m.slice(1).map(Number) : [];
  if (parts.length !== 4 || parts.some((p) => p > 255)) {
    throw new TypeError(`Cannot encode ICP message: ${field} "${addr}" is not an IPv4 address`);
  }
  parts.forEach((p, i) => view.setUint8(offset + i, p));
}

function checkU32(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`Cannot encode ICP message: ${field} ${v} is not an unsigned 32-bit integer`);
  }
}

/**
 * Encodes an ICP message.
 *
 * @param msg the message; `senderAddress`, `options`, `optionData` default to 0
 * @returns the datagram
 * @throws {RangeError} when the URL is empty or longer than {@link MAX_ICP_URL_BYTES}, or a number
 *   field is out of range
 * @throws {TypeError} when the opcode cannot be sent, an address is not IPv4, or the URL contains
 *   NUL, spaces or control characters
 * @example
 * ```ts
 * const bytes = encodeIcpMessage({ opcode: IcpOpcode.QUERY, requestNumber: 7, url: "http://a/" });
 * ```
 */
export function encodeIcpMessage(
  msg:
    | Omit<IcpQuery, "options" | "optionData" | "senderAddress" | "requesterAddress">
      & Partial<Pick<IcpQuery, "options" | "optionData" | "senderAddress" | "requesterAddress">>
    | Omit<IcpReply, "options" | "optionData" | "senderAddress"> & Partial<IcpHeader>,
): Uint8Array {
  if (msg.opcode !== IcpOpcode.QUERY && !REPLY_OPCODES.has(msg.opcode)) {
    throw new TypeError(`Cannot encode ICP message: opcode ${msg.opcode} (${opcodeName(msg.opcode)}) cannot be sent`);
  }
  const url = URL_ENCODER.encode(msg.url);
  if (url.length === 0) throw new RangeError("Cannot encode ICP message: empty URL");
  if (url.length > MAX_ICP_URL_BYTES) {
    throw new RangeError(`Cannot encode ICP message: URL of ${url.length} bytes is longer than ${MAX_ICP_URL_BYTES}`);
  }
  for (const b of url) {
    if (b <= 0x20 || b === 0x7f) {
      throw new TypeError(`Cannot encode ICP message: URL "${msg.url}" contains a control character or space`);
    }
  }
  const isQuery = msg.opcode === IcpOpcode.QUERY;
  const length = ICP_HEADER_BYTES + (isQuery ? 4 : 0) + url.length + 1;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  const requestNumber = msg.requestNumber;
  const options = msg.options ?? 0;
  const optionData = msg.optionData ?? 0;
  checkU32(requestNumber, "request number");
  checkU32(options, "options");
  checkU32(optionData, "option data");
  view.setUint8(0, msg.opcode);
  view.setUint8(1, ICP_VERSION);
  view.setUint16(2, length);
  view.setUint32(4, requestNumber);
  view.setUint32(8, options);
  view.setUint32(12, optionData);
  writeIpv4(view, 16, msg.senderAddress ?? "0.0.0.0", "sender address");
  let at = ICP_HEADER_BYTES;
  if (isQuery) {
    writeIpv4(view, at, (msg as Partial<IcpQuery>).requesterAddress ?? "0.0.0.0", "requester address");
    at += 4;
  }
  out.set(url, at);
  // out[length - 1] is already 0: the NUL terminator.
  return out;
}
