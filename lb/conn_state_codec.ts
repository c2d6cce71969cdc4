/**
 * The director's saved connection state: connection-table entries and persistence templates, as a
 * versioned, checksummed binary file (what IPVS's sync daemon sends to a backup, kept on disk so a
 * restarted director carries on). Pure: no clocks, no I/O; `conn_state_file.ts` reads and writes it.
 *
 * Real servers are named by their service's key (`VIP:PORT`, `*:PORT`) and their own `ADDR:PORT`,
 * never by the dispatcher's internal ids, which differ between runs. Time is stored as the wall-clock
 * moment of the snapshot plus each entry's remaining milliseconds, so timeouts continue from where
 * they were however long the director was down.
 *
 * Layout (all integers little-endian, no padding):
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                  magic "WCCS" (57 43 43 53)                   |  0
 * +-------------------------------+-------------------------------+
 * |        version (u16) = 1      |   header bytes (u16) = 32     |  4
 * +-------------------------------+-------------------------------+
 * |                                                               |  8
 * +       saved at: Unix time in ms, wall clock (float64)         +
 * |                                                               |
 * +---------------------------------------------------------------+
 * |                     service count S (u32)                     | 16
 * +---------------------------------------------------------------+
 * |                      server count R (u32)                     | 20
 * +---------------------------------------------------------------+
 * |                    connection count C (u32)                   | 24
 * +---------------------------------------------------------------+
 * |                     template count T (u32)                    | 28
 * +---------------------------------------------------------------+
 * S services:  netmask (u8) | key length L (u8) | L bytes UTF-8 key ("VIP:PORT" or "*:PORT")
 * R servers:   service index (u16) | key length L (u8) | L bytes UTF-8 key ("ADDR:PORT")
 * 0-3 zero bytes, so the records start at a multiple of 4 (they are then read and written as
 *   little-endian 32-bit words)
 * C connections, 20 bytes each:
 *   client addr (u32) | virtual addr (u32) | client port << 16 | virtual port (u32) |
 *   server index (u16) | TCP state (u8, tcp_state.ts numbers) | flags (u8, bit 0: placed by a
 *   template) | remaining ms (u32)
 * T templates, 12 bytes each:
 *   client addr & netmask (u32) | server index (u16) | reserved (u16, 0) | remaining ms (u32)
 * +---------------------------------------------------------------+
 * |        CRC-32C of every byte before it (u32)                  |  end - 4
 * +---------------------------------------------------------------+
 * ```
 *
 * A connection's or template's service is its server's. The service's netmask is the persistence
 * netmask the templates were keyed with (a changed netmask makes them meaningless).
 *
 * @module
 */
import { crc32c } from "../core/crc32c.ts";
import { TcpState } from "./tcp_state.ts";

/** File magic, "WCCS" (webcache connection state). */
export const CONN_STATE_MAGIC = 0x53434357; // "WCCS" read as a little-endian u32
/** The version this codec writes and reads. */
export const CONN_STATE_VERSION = 1;
/** Fixed header bytes. */
export const CONN_STATE_HEADER_BYTES = 32;
/** Bytes per connection record. */
export const CONN_RECORD_BYTES = 20;
/** Bytes per template record. */
export const TEMPLATE_RECORD_BYTES = 12;
/** Bytes of the trailing checksum. */
const TRAILER_BYTES = 4;
/** Longest service or server key (its length is one byte). */
export const MAX_KEY_BYTES = 255;
/** Most servers in one file (indexes are u16). */
export const MAX_STATE_SERVERS = 65536;
/** Longest remaining time stored (u32 ms, about 49.7 days); longer ones are clamped. */
export const MAX_REMAINING_MS = 0xffffffff;

/** A virtual service in a saved state. */
export interface ConnStateService {
  /** `VIP:PORT`, or `*:PORT` for a transparent service. */
  key: string;
  /** Persistence netmask (prefix length) the service's templates are keyed with. */
  netmask: number;
}

/** A real server in a saved state. */
export interface ConnStateServer {
  /** Index into {@link ConnState.services}. */
  service: number;
  /** `ADDR:PORT`. */
  key: string;
}

/** Connection records, one array per field (index i is record i). */
export interface ConnRecords {
  /** Client addresses (IPv4 as u32). */
  saddr: Uint32Array;
  /** Virtual addresses. */
  daddr: Uint32Array;
  /** `clientPort << 16 | virtualPort`. */
  ports: Uint32Array;
  /** Index into {@link ConnState.servers}. */
  server: Uint16Array;
  /** TCP state numbers (`TcpState`). */
  state: Uint8Array;
  /** Flag bits (bit 0: placed through a persistence template). */
  flags: Uint8Array;
  /** Milliseconds left at the snapshot. */
  remainingMs: Uint32Array;
}

/** Template records, one array per field. */
export interface TemplateRecords {
  /** `client address & netmask`. */
  client: Uint32Array;
  /** Index into {@link ConnState.servers}. */
  server: Uint16Array;
  /** Milliseconds left at the snapshot. */
  remainingMs: Uint32Array;
}

/** A snapshot of a director's connection table and persistence templates. */
export interface ConnState {
  /** Wall-clock time of the snapshot, Unix ms. */
  savedAtMs: number;
  services: ConnStateService[];
  servers: ConnStateServer[];
  conns: ConnRecords;
  templates: TemplateRecords;
}

/** Raised for bytes that are not a connection state this codec can read. */
export class ConnStateDecodeError extends SyntaxError {
  override name = "ConnStateDecodeError";
  /** Byte offset where decoding failed. */
  readonly offset: number;

  /**
   * @param detail what is wrong
   * @param offset where
   */
  constructor(detail: string, offset: number) {
    super(`Cannot decode connection state: ${detail}`);
    this.offset = offset;
  }
}

/** Allocates empty-or-sized connection records. */
export function newConnRecords(n: number): ConnRecords {
  return {
    saddr: new Uint32Array(n),
    daddr: new Uint32Array(n),
    ports: new Uint32Array(n),
    server: new Uint16Array(n),
    state: new Uint8Array(n),
    flags: new Uint8Array(n),
    remainingMs: new Uint32Array(n),
  };
}

/** Allocates template records. */
export function newTemplateRecords(n: number): TemplateRecords {
  return { client: new Uint32Array(n), server: new Uint16Array(n), remainingMs: new Uint32Array(n) };
}

/** The ArrayBuffers of a state, for `postMessage(..., transfer)`. */
export function connStateBuffers(s: ConnState): ArrayBuffer[] {
  const c = s.conns, t = s.templates;
  return [c.saddr, c.daddr, c.ports, c.server, c.state, c.flags, c.remainingMs, t.client, t.server, t.remainingMs]
    .map((a) => a.buffer as ArrayBuffer);
}

const enc = new TextEncoder();
/** Whether this host stores numbers little-endian (the file's byte order): then records move as words. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/**
 * Reverses the byte order of each 32-bit word in place (the file is little-endian; a big-endian
 * host reads and writes its records through this).
 *
 * @param w the words
 */
export function swapWords(w: Uint32Array): void {
  for (let i = 0; i < w.length; i++) {
    const x = w[i];
    w[i] = ((x & 0xff) << 24 | (x & 0xff00) << 8 | (x >>> 8) & 0xff00 | x >>> 24) >>> 0;
  }
}

/** Zero bytes that bring `offset` to a multiple of 4. */
const pad4 = (offset: number) => (4 - (offset & 3)) & 3;
const dec = new TextDecoder("utf-8", { fatal: true });

function keyBytes(key: string, what: string): Uint8Array {
  const b = enc.encode(key);
  if (b.length === 0 || b.length > MAX_KEY_BYTES) {
    throw new RangeError(`Cannot encode connection state: ${what} key "${key}" is ${b.length} bytes (1-255)`);
  }
  return b;
}

/**
 * Encodes a snapshot (layout in the module doc).
 *
 * @param s the snapshot; `conns`/`templates` arrays must have equal lengths per kind
 * @returns the file bytes, checksum included
 * @throws {RangeError} for keys longer than 255 bytes, more than 65,536 servers, bad indexes
 * @example
 * ```ts
 * const bytes = encodeConnState(dispatcher.exportState(Date.now(), Date.now()));
 * ```
 */
export function encodeConnState(s: ConnState): Uint8Array {
  const nC = s.conns.saddr.length, nT = s.templates.client.length;
  if (s.servers.length > MAX_STATE_SERVERS) {
    throw new RangeError(`Cannot encode connection state: ${s.servers.length} servers (at most ${MAX_STATE_SERVERS})`);
  }
  const svcKeys = s.services.map((v) => keyBytes(v.key, "service"));
  const srvKeys = s.servers.map((v) => keyBytes(v.key, "server"));
  let size = CONN_STATE_HEADER_BYTES + nC * CONN_RECORD_BYTES + nT * TEMPLATE_RECORD_BYTES + TRAILER_BYTES;
  for (const k of svcKeys) size += 2 + k.length;
  for (const k of srvKeys) size += 3 + k.length;
  const keysEnd = size - nC * CONN_RECORD_BYTES - nT * TEMPLATE_RECORD_BYTES - TRAILER_BYTES;
  size += pad4(keysEnd);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, CONN_STATE_MAGIC, true);
  v.setUint16(4, CONN_STATE_VERSION, true);
  v.setUint16(6, CONN_STATE_HEADER_BYTES, true);
  v.setFloat64(8, s.savedAtMs, true);
  v.setUint32(16, s.services.length, true);
  v.setUint32(20, s.servers.length, true);
  v.setUint32(24, nC, true);
  v.setUint32(28, nT, true);
  let o = CONN_STATE_HEADER_BYTES;
  s.services.forEach((svc, i) => {
    if (!Number.isInteger(svc.netmask) || svc.netmask < 0 || svc.netmask > 32) {
      throw new RangeError(`Cannot encode connection state: netmask ${svc.netmask} of "${svc.key}" is not 0-32`);
    }
    out[o] = svc.netmask;
    out[o + 1] = svcKeys[i].length;
    out.set(svcKeys[i], o + 2);
    o += 2 + svcKeys[i].length;
  });
  s.servers.forEach((srv, i) => {
    if (!(srv.service >= 0 && srv.service < s.services.length)) {
      throw new RangeError(`Cannot encode connection state: server "${srv.key}" names service ${srv.service}`);
    }
    v.setUint16(o, srv.service, true);
    out[o + 2] = srvKeys[i].length;
    out.set(srvKeys[i], o + 3);
    o += 3 + srvKeys[i].length;
  });
  o += pad4(o);
  const c = s.conns;
  const t = s.templates;
  // Word writes: the records are 4-aligned; big-endian hosts swap the words afterwards.
  const w = new Uint32Array(out.buffer, o, (nC * CONN_RECORD_BYTES + nT * TEMPLATE_RECORD_BYTES) >> 2);
  let j = 0;
  for (let i = 0; i < nC; i++, j += 5) {
    w[j] = c.saddr[i];
    w[j + 1] = c.daddr[i];
    w[j + 2] = c.ports[i];
    w[j + 3] = c.server[i] | (c.state[i] << 16) | (c.flags[i] << 24);
    w[j + 4] = c.remainingMs[i];
  }
  for (let i = 0; i < nT; i++, j += 3) {
    w[j] = t.client[i];
    w[j + 1] = t.server[i];
    w[j + 2] = t.remainingMs[i];
  }
  if (!LITTLE_ENDIAN) swapWords(w);
  o += j << 2;
  v.setUint32(o, crc32c(out.subarray(0, o)), true);
  return out;
}

/**
 * Decodes a snapshot, checking everything before trusting it: length, magic, version, header size,
 * the CRC-32C over the whole file, exact section sizes, key encoding, server and service indexes
 * and TCP states.
 *
 * @param bytes the file's contents
 * @returns the snapshot
 * @throws {ConnStateDecodeError} (a SyntaxError) naming what is wrong, e.g.
 *   `Cannot decode connection state: checksum 0x1234abcd does not match 0x9e3779b9`
 */
export function decodeConnState(bytes: Uint8Array): ConnState {
  const min = CONN_STATE_HEADER_BYTES + TRAILER_BYTES;
  if (bytes.length < min) {
    throw new ConnStateDecodeError(`length ${bytes.length} is less than header and checksum size ${min}`, 0);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  if (magic !== CONN_STATE_MAGIC) {
    throw new ConnStateDecodeError(`magic 0x${magic.toString(16).padStart(8, "0")} is not "WCCS"`, 0);
  }
  const version = v.getUint16(4, true);
  if (version !== CONN_STATE_VERSION) {
    throw new ConnStateDecodeError(`version ${version} is not supported (this build reads ${CONN_STATE_VERSION})`, 4);
  }
  const headerBytes = v.getUint16(6, true);
  if (headerBytes !== CONN_STATE_HEADER_BYTES) {
    throw new ConnStateDecodeError(`header size ${headerBytes} is not ${CONN_STATE_HEADER_BYTES}`, 6);
  }
  const end = bytes.length - TRAILER_BYTES;
  const want = v.getUint32(end, true);
  const got = crc32c(bytes.subarray(0, end));
  if (want !== got) {
    throw new ConnStateDecodeError(
      `checksum 0x${got.toString(16).padStart(8, "0")} does not match 0x${want.toString(16).padStart(8, "0")}`,
      end,
    );
  }
  const savedAtMs = v.getFloat64(8, true);
  if (!Number.isFinite(savedAtMs)) throw new ConnStateDecodeError(`saved-at time ${savedAtMs} is not finite`, 8);
  const nS = v.getUint32(16, true), nR = v.getUint32(20, true);
  const nC = v.getUint32(24, true), nT = v.getUint32(28, true);
  if (nR > MAX_STATE_SERVERS) throw new ConnStateDecodeError(`server count ${nR} exceeds ${MAX_STATE_SERVERS}`, 20);
  let o = CONN_STATE_HEADER_BYTES;
  const need = (n: number, what: string) => {
    if (o + n > end) {
      throw new ConnStateDecodeError(`${what} at offset ${o} needs ${n} bytes, ${end - o} left before the checksum`, o);
    }
  };
  const key = (len: number, what: string) => {
    need(len, what);
    if (len === 0) throw new ConnStateDecodeError(`${what} at offset ${o} is empty`, o);
    let k: string;
    try {
      k = dec.decode(bytes.subarray(o, o + len));
    } catch {
      throw new ConnStateDecodeError(`${what} at offset ${o} is not UTF-8`, o);
    }
    o += len;
    return k;
  };
  const services: ConnStateService[] = [];
  for (let i = 0; i < nS; i++) {
    need(2, `service ${i}`);
    const netmask = bytes[o], len = bytes[o + 1];
    if (netmask > 32) throw new ConnStateDecodeError(`service ${i} netmask ${netmask} is more than 32`, o);
    o += 2;
    services.push({ key: key(len, `service ${i} key`), netmask });
  }
  const servers: ConnStateServer[] = [];
  for (let i = 0; i < nR; i++) {
    need(3, `server ${i}`);
    const service = v.getUint16(o, true), len = bytes[o + 2];
    if (service >= nS) throw new ConnStateDecodeError(`server ${i} names service ${service} of ${nS}`, o);
    o += 3;
    servers.push({ service, key: key(len, `server ${i} key`) });
  }
  const pad = pad4(o);
  need(pad, "padding");
  for (let i = 0; i < pad; i++) {
    if (bytes[o + i] !== 0) throw new ConnStateDecodeError(`padding byte at offset ${o + i} is not zero`, o + i);
  }
  o += pad;
  const rest = end - o;
  const body = nC * CONN_RECORD_BYTES + nT * TEMPLATE_RECORD_BYTES;
  if (rest !== body) {
    throw new ConnStateDecodeError(
      `${nC} connections and ${nT} templates need ${body} bytes at offset ${o}, found ${rest}`,
      o,
    );
  }
  const conns = newConnRecords(nC);
  const templates = newTemplateRecords(nT);
  // Word reads, over a copy when the input is not 4-aligned in memory or the host is big-endian.
  const at = bytes.byteOffset + o;
  const w = at % 4 === 0 && LITTLE_ENDIAN
    ? new Uint32Array(bytes.buffer, at, body >> 2)
    : new Uint32Array(bytes.slice(o, o + body).buffer);
  if (!LITTLE_ENDIAN) swapWords(w);
  let j = 0;
  for (let i = 0; i < nC; i++, j += 5) {
    const x = w[j + 3];
    const server = x & 0xffff, state = (x >>> 16) & 0xff;
    if (server >= nR) {
      throw new ConnStateDecodeError(`connection ${i} names server ${server} of ${nR}`, o + j * 4 + 12);
    }
    if (state > TcpState.CLOSE) {
      throw new ConnStateDecodeError(`connection ${i} has TCP state ${state}`, o + j * 4 + 14);
    }
    conns.saddr[i] = w[j];
    conns.daddr[i] = w[j + 1];
    conns.ports[i] = w[j + 2];
    conns.server[i] = server;
    conns.state[i] = state;
    conns.flags[i] = x >>> 24;
    conns.remainingMs[i] = w[j + 4];
  }
  for (let i = 0; i < nT; i++, j += 3) {
    const server = w[j + 1] & 0xffff;
    if (server >= nR) throw new ConnStateDecodeError(`template ${i} names server ${server} of ${nR}`, o + j * 4 + 4);
    templates.client[i] = w[j];
    templates.server[i] = server;
    templates.remainingMs[i] = w[j + 2];
  }
  return { savedAtMs, services, servers, conns, templates };
}
