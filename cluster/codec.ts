/**
 * Pure codec of gossip messages: typed {@link Message} values ⇄ bytes. No sockets, clocks or logs;
 * `transport.ts` adds encryption (`keyring.ts`) and does the I/O.
 *
 * All integers are big-endian (network order). A `str8` is a one-byte length followed by that
 * many bytes of UTF-8; a `blob16` is a two-byte length followed by that many bytes.
 *
 * ## Packet (one UDP datagram, or one TCP frame after decryption)
 *
 * A packet is a compound of messages, so updates ride along with probes (piggybacking):
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+-------------------------------+
 * |  version = 1  |  count (1-255)|   length of message 0 (u16)   |
 * +---------------+---------------+-------------------------------+
 * |  message 0 (length bytes) ...                                 |
 * +-------------------------------+-------------------------------+
 * |   length of message 1 (u16)   |  message 1 ...                |
 * +-------------------------------+-------------------------------+
 * ```
 *
 * ## Message (first byte: type, wire values below; only append, never reuse)
 *
 * ```
 * ping          1 | seq u32 | target id str8 | from id str8 | from addr str8
 * indirectPing  2 | seq u32 | target id str8 | target addr str8 | from id str8 | from addr str8 | nack u8 (0|1)
 * ack           3 | seq u32
 * nack          4 | seq u32
 * suspect       5 | incarnation u32 | node id str8 | from id str8
 * alive         6 | record blob16
 * dead          7 | incarnation u32 | node id str8 | from id str8      (from = node: it left)
 * pushPull      8 | join u8 (0|1) | entries u16 | entries × (state u8 | record blob16)
 * announce      9 | node id str8 | gossip addr str8                    (--peers auto discovery)
 * configRequest 10 | (no body)                                          (cluster.configSync, TCP only)
 * config       11 | version hi u32 | version lo u32 | hash str8 | text length u32 | text (UTF-8 YAML)
 * purge        12 | ban blob16                                         (cluster purge, TCP; ban_codec.ts)
 * purgeAck     13 | ban id str8 | deleted u32                          (answer to purge)
 * bans         14 | floor hi u32 | floor lo u32 | count u16 | count × ban blob16   (ban list sync, TCP)
 * streamOpen   15 | frame length u32                                    (TCP only, see stream_frame.ts)
 * ```
 *
 * A node's ban list may take several `bans` messages in one frame (each message stays below 64 KiB);
 * the receiver merges them all.
 *
 * `streamOpen` is the whole content of a small first TCP frame that announces a larger second
 * frame on the same connection: a receiver reads at most {@link MAX_UNAUTHENTICATED_FRAME_BYTES}
 * before the keyring has authenticated the sender, and the authenticated announcement lets it take
 * the large frame (up to {@link MAX_STREAM_FRAME_BYTES}).
 *
 * `version` is the config's version counter (hi × 2³² + lo, `config_version.ts`); with `hash` it
 * orders configs. (Before config versions the field carried the file's modification time.)
 *
 * A record is the node's {@link NodeRecord} as UTF-8 JSON, at most {@link MAX_RECORD_BYTES},
 * validated field by field on decode; its `incarnation` is the SWIM incarnation of the update.
 * Push-pull entry states: 0 alive, 1 suspect, 2 dead, 3 left.
 *
 * @module
 */
import { MAX_REFUSAL_REASON_CHARS, type NodeRecord } from "./node.ts";
import { type Ban, BanDecodeError, decodeBan, encodeBan } from "./ban_codec.ts";

/** Packet format version; a packet with another version is dropped (`reason="version"`). */
export const CODEC_VERSION = 1;
/** A record larger than this is refused: it must fit in a UDP packet beside a probe. */
export const MAX_RECORD_BYTES = 1024;
/** Largest packet the decoder accepts: the largest UDP payload (65535 − 8 − 20); TCP frames may be larger. */
export const MAX_PACKET_BYTES = 65507;
/** Largest TCP frame: a push-pull of thousands of members fits; more is garbage or an attack. */
export const MAX_STREAM_FRAME_BYTES = 8 * 1024 * 1024;
/**
 * Largest TCP frame read from a sender not yet authenticated: one full UDP-sized packet plus its
 * envelope fits, so small exchanges need one frame; a larger frame must be announced by an
 * authenticated `streamOpen` first. Bounds what a stranger's connection can make a node allocate.
 */
export const MAX_UNAUTHENTICATED_FRAME_BYTES = 64 * 1024 + 1024;

/** Wire values of message types. */
export const MESSAGE_TYPE = {
  ping: 1,
  indirectPing: 2,
  ack: 3,
  nack: 4,
  suspect: 5,
  alive: 6,
  dead: 7,
  pushPull: 8,
  announce: 9,
  configRequest: 10,
  config: 11,
  purge: 12,
  purgeAck: 13,
  bans: 14,
  streamOpen: 15,
} as const;

/** SWIM state of a member as carried in push-pull (wire values). */
export const WIRE_STATE = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
/** A SWIM state as carried in push-pull. */
export type WireState = keyof typeof WIRE_STATE;

/** A direct probe. */
export interface PingMessage {
  /** Message type. */
  type: "ping";
  /** Sequence number the ack echoes. */
  seq: number;
  /** Id of the node meant to answer; a node answers only probes addressed to it. */
  target: string;
  /** Id of the prober. */
  from: string;
  /** Where to send the ack (`HOST:PORT`). */
  fromAddr: string;
}
/** A request to probe `target` on the sender's behalf (SWIM ping-req). */
export interface IndirectPingMessage {
  /** Message type. */
  type: "indirectPing";
  /** Sequence number (the ack or nack echoes it). */
  seq: number;
  /** Id of the node to probe. */
  target: string;
  /** Its gossip address. */
  targetAddr: string;
  /** Id of the node that sent it. */
  from: string;
  /** Where to answer (`HOST:PORT`). */
  fromAddr: string;
  /** Lifeguard: answer with a nack when the target stays silent. */
  nack: boolean;
}
/** Answer to a ping. */
export interface AckMessage {
  /** Message type. */
  type: "ack";
  /** Sequence number (the ack or nack echoes it). */
  seq: number;
}
/** Lifeguard: the relay is alive but the target did not answer. */
export interface NackMessage {
  /** Message type. */
  type: "nack";
  /** Sequence number (the ack or nack echoes it). */
  seq: number;
}
/** `from` suspects `node`. */
export interface SuspectMessage {
  /** Message type. */
  type: "suspect";
  /** Incarnation of the node the message is about. */
  incarnation: number;
  /** Id of the node the message is about. */
  node: string;
  /** Id of the node that sent it. */
  from: string;
}
/** `record` is alive at `record.incarnation`. */
export interface AliveMessage {
  /** Message type. */
  type: "alive";
  /** The record, with its incarnation. */
  record: NodeRecord;
}
/** `from` declares `node` dead; `from === node` means it left. */
export interface DeadMessage {
  /** Message type. */
  type: "dead";
  /** Incarnation of the node the message is about. */
  incarnation: number;
  /** Id of the node the message is about. */
  node: string;
  /** Id of the node that sent it. */
  from: string;
}
/** One member in a push-pull exchange. */
export interface PushPullEntry {
  /** Its SWIM state. */
  state: WireState;
  /** Its record (with its incarnation). */
  record: NodeRecord;
}
/** Full state, sent over TCP for joins and anti-entropy. */
export interface PushPullMessage {
  /** Message type. */
  type: "pushPull";
  /** Sent by a node joining (informational). */
  join: boolean;
  /** Every member the sender knows, itself first. */
  entries: PushPullEntry[];
}
/** A multicast discovery announcement. */
export interface AnnounceMessage {
  /** Message type. */
  type: "announce";
  /** Id of the node the message is about. */
  node: string;
  /** Its gossip address. */
  addr: string;
}

/** Asks a peer for its config (TCP). */
export interface ConfigRequestMessage {
  /** Message type. */
  type: "configRequest";
}
/** A peer's config file, authenticated by the envelope's key (cluster.configSync). */
export interface ConfigMessage {
  /** Message type. */
  type: "config";
  /** Its version counter (config_version.ts). */
  version: number;
  /** Its config hash (config_hash.ts). */
  hash: string;
  /** The YAML text. */
  text: string;
}

/** A purge to apply (sent over TCP by the cache that received it to every other cache). */
export interface PurgeMessage {
  /** Message type. */
  type: "purge";
  /** The ban (for a `url` ban, the object is also deleted at once). */
  ban: Ban;
}
/** The answer to a {@link PurgeMessage}: applied. */
export interface PurgeAckMessage {
  /** Message type. */
  type: "purgeAck";
  /** Id of the ban. */
  id: string;
  /** Objects deleted at once (url bans; 0 for prefix and regex bans, which act on lookup). */
  deleted: number;
}
/** Part of a node's ban list (ban list sync: a request carries the sender's, the answer the receiver's). */
export interface BansMessage {
  /** Message type. */
  type: "bans";
  /** The sender's ban floor (ms since the epoch). */
  floorMs: number;
  /** Bans (a list longer than one message fits is sent as several messages). */
  bans: Ban[];
}

/** Announces the length of the next TCP frame on this connection (larger than an unauthenticated frame). */
export interface StreamOpenMessage {
  /** Message type. */
  type: "streamOpen";
  /** Length of the next frame's envelope, bytes (at most {@link MAX_STREAM_FRAME_BYTES}). */
  frameBytes: number;
}

/** Any gossip message. */
export type Message =
  | PingMessage
  | IndirectPingMessage
  | AckMessage
  | NackMessage
  | SuspectMessage
  | AliveMessage
  | DeadMessage
  | PushPullMessage
  | AnnounceMessage
  | ConfigRequestMessage
  | ConfigMessage
  | PurgeMessage
  | PurgeAckMessage
  | BansMessage
  | StreamOpenMessage;

/** Why a message could not be decoded: also the `reason` label of the dropped-messages counter. */
export type DecodeReason = "short" | "oversized" | "version" | "type" | "garbled";

/** Raised for malformed input; `reason` classifies it and `offset` says where decoding stopped. */
export class ClusterDecodeError extends SyntaxError {
  /** Classification, used as the metric label. */
  readonly reason: DecodeReason;
  /** Byte offset where the problem was found. */
  readonly offset: number;
  /**
   * Creates the error.
   *
   * @param reason the metric label
   * @param offset where decoding stopped
   */
  constructor(message: string, reason: DecodeReason, offset: number) {
    super(message);
    this.name = "ClusterDecodeError";
    this.reason = reason;
    this.offset = offset;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;
  #grow(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.#grow(1);
    this.#view.setUint8(this.#len, v);
    this.#len += 1;
  }
  u16(v: number): void {
    this.#grow(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
  }
  u32(v: number): void {
    this.#grow(4);
    this.#view.setUint32(this.#len, v);
    this.#len += 4;
  }
  bytes(b: Uint8Array): void {
    this.#grow(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }
  str8(s: string, what: string): void {
    const b = enc.encode(s);
    if (b.length > 255) throw new RangeError(`Cannot encode ${what}: ${b.length} bytes exceed 255`);
    this.u8(b.length);
    this.bytes(b);
  }
  blob16(b: Uint8Array, what: string): void {
    if (b.length > 0xffff) throw new RangeError(`Cannot encode ${what}: ${b.length} bytes exceed 65535`);
    this.u16(b.length);
    this.bytes(b);
  }
  done(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

class Reader {
  readonly #b: Uint8Array;
  readonly #view: DataView;
  #off: number;
  readonly #end: number;
  constructor(b: Uint8Array, off = 0, end = b.length) {
    this.#b = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.#off = off;
    this.#end = end;
  }
  get offset(): number {
    return this.#off;
  }
  get remaining(): number {
    return this.#end - this.#off;
  }
  #need(n: number, what: string): void {
    if (this.#off + n > this.#end) {
      throw new ClusterDecodeError(
        `Cannot decode gossip message: ${what} needs ${n} bytes at offset ${this.#off}, ${this.remaining} left`,
        "short",
        this.#off,
      );
    }
  }
  u8(what: string): number {
    this.#need(1, what);
    return this.#view.getUint8(this.#off++);
  }
  u16(what: string): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.#off);
    this.#off += 2;
    return v;
  }
  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.#off);
    this.#off += 4;
    return v;
  }
  bytes(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const out = this.#b.subarray(this.#off, this.#off + n);
    this.#off += n;
    return out;
  }
  str8(what: string): string {
    const n = this.u8(`${what} length`);
    const at = this.#off;
    const b = this.bytes(n, what);
    try {
      return dec.decode(b);
    } catch {
      throw new ClusterDecodeError(`Cannot decode gossip message: ${what} is not UTF-8`, "garbled", at);
    }
  }
  bool(what: string): boolean {
    const at = this.#off;
    const v = this.u8(what);
    if (v > 1) throw new ClusterDecodeError(`Cannot decode gossip message: ${what} is ${v}, not 0 or 1`, "garbled", at);
    return v === 1;
  }
}

/**
 * Encodes a record as bounded JSON.
 *
 * @throws {RangeError} when the record is larger than {@link MAX_RECORD_BYTES}
 */
export function encodeRecord(r: NodeRecord): Uint8Array {
  const b = enc.encode(JSON.stringify(r));
  if (b.length > MAX_RECORD_BYTES) {
    throw new RangeError(`Cannot encode node record "${r.name}": ${b.length} bytes exceed ${MAX_RECORD_BYTES}`);
  }
  return b;
}

const ROLES = new Set(["director", "cache"]);
const STATES = new Set(["alive", "suspect", "dead", "left", "draining"]);
const FORWARDING = new Set(["none", "dr", "tun"]);

/**
 * Decodes and validates a record.
 *
 * @throws {ClusterDecodeError} when the bytes are not a well-formed record
 */
export function decodeRecord(b: Uint8Array, offset = 0): NodeRecord {
  const bad = (why: string) =>
    new ClusterDecodeError(
      `Cannot decode node record: ${why}`,
      b.length > MAX_RECORD_BYTES ? "oversized" : "garbled",
      offset,
    );
  if (b.length > MAX_RECORD_BYTES) throw bad(`${b.length} bytes exceed ${MAX_RECORD_BYTES}`);
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(b));
  } catch {
    throw bad("not UTF-8 JSON");
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad("not an object");
  const o = v as Record<string, unknown>;
  const str = (k: string, max = 255) =>
    typeof o[k] === "string" && (o[k] as string).length > 0 && (o[k] as string).length <= max;
  const optStr = (x: unknown) => x === undefined || (typeof x === "string" && x.length <= 255);
  if (!str("id")) throw bad("id is missing or not a string");
  if (!str("name")) throw bad("name is missing or not a string");
  if (!ROLES.has(o.role as string)) throw bad(`role ${JSON.stringify(o.role)} is not director or cache`);
  if (!STATES.has(o.state as string)) throw bad(`state ${JSON.stringify(o.state)} is unknown`);
  if (typeof o.weight !== "number" || !Number.isFinite(o.weight) || o.weight < 0) {
    throw bad("weight is not a number ≥ 0");
  }
  if (typeof o.configHash !== "string" || o.configHash.length > 64) throw bad("configHash is not a string");
  if (!Number.isInteger(o.incarnation) || (o.incarnation as number) < 0 || (o.incarnation as number) > 0xffffffff) {
    throw bad("incarnation is not a 32-bit unsigned integer");
  }
  const a = o.addrs as Record<string, unknown> | undefined;
  if (!a || typeof a !== "object" || typeof a.gossip !== "string" || !a.gossip) throw bad("addrs.gossip is missing");
  for (const k of ["http", "icp", "admin", "tunnel"]) if (!optStr(a[k])) throw bad(`addrs.${k} is not a string`);
  for (const k of ["mac", "iface", "service", "vip", "bans"]) if (!optStr(o[k])) throw bad(`${k} is not a string`);
  if (o.forwarding !== undefined && !FORWARDING.has(o.forwarding as string)) throw bad("forwarding is unknown");
  if (o.ha !== undefined) {
    const h = o.ha as Record<string, unknown>;
    if (!h || typeof h !== "object" || typeof h.group !== "string" || typeof h.role !== "string" || !optStr(h.vips)) {
      throw bad("ha is not {group, role, vips?}");
    }
  }
  if (o.configVersion !== undefined && (!Number.isSafeInteger(o.configVersion) || (o.configVersion as number) < 0)) {
    throw bad("configVersion is not a counter");
  }
  if (o.configRefused !== undefined) {
    const c = o.configRefused as Record<string, unknown>;
    if (
      !c || typeof c !== "object" || !Number.isSafeInteger(c.version) || (c.version as number) < 0 ||
      typeof c.hash !== "string" || c.hash.length > 64 || typeof c.reason !== "string" ||
      c.reason.length > MAX_REFUSAL_REASON_CHARS
    ) {
      throw bad("configRefused is not {version, hash, reason}");
    }
  }
  return o as unknown as NodeRecord;
}

function writeMessage(w: Writer, m: Message): void {
  w.u8(MESSAGE_TYPE[m.type]);
  switch (m.type) {
    case "ping":
      w.u32(m.seq);
      w.str8(m.target, "target");
      w.str8(m.from, "from");
      w.str8(m.fromAddr, "from address");
      break;
    case "indirectPing":
      w.u32(m.seq);
      w.str8(m.target, "target");
      w.str8(m.targetAddr, "target address");
      w.str8(m.from, "from");
      w.str8(m.fromAddr, "from address");
      w.u8(m.nack ? 1 : 0);
      break;
    case "ack":
    case "nack":
      w.u32(m.seq);
      break;
    case "suspect":
    case "dead":
      w.u32(m.incarnation);
      w.str8(m.node, "node");
      w.str8(m.from, "from");
      break;
    case "alive":
      w.blob16(encodeRecord(m.record), "record");
      break;
    case "pushPull":
      if (m.entries.length > 0xffff) throw new RangeError(`Cannot encode push-pull: ${m.entries.length} entries`);
      w.u8(m.join ? 1 : 0);
      w.u16(m.entries.length);
      for (const e of m.entries) {
        w.u8(WIRE_STATE[e.state]);
        w.blob16(encodeRecord(e.record), "record");
      }
      break;
    case "announce":
      w.str8(m.node, "node");
      w.str8(m.addr, "address");
      break;
    case "configRequest":
      break;
    case "streamOpen":
      w.u32(m.frameBytes);
      break;
    case "config": {
      if (!Number.isSafeInteger(m.version) || m.version < 0) {
        throw new RangeError(`Cannot encode config version ${m.version}`);
      }
      w.u32(Math.floor(m.version / 2 ** 32));
      w.u32(m.version >>> 0);
      w.str8(m.hash, "hash");
      const b = enc.encode(m.text);
      w.u32(b.length);
      w.bytes(b);
      break;
    }
    case "purge":
      w.blob16(encodeBan(m.ban), "ban");
      break;
    case "purgeAck":
      w.str8(m.id, "ban id");
      w.u32(m.deleted);
      break;
    case "bans":
      if (!Number.isSafeInteger(m.floorMs) || m.floorMs < 0) {
        throw new RangeError(`Cannot encode ban floor ${m.floorMs}`);
      }
      if (m.bans.length > 0xffff) throw new RangeError(`Cannot encode bans: ${m.bans.length} bans in one message`);
      w.u32(Math.floor(m.floorMs / 2 ** 32));
      w.u32(m.floorMs >>> 0);
      w.u16(m.bans.length);
      for (const b of m.bans) w.blob16(encodeBan(b), "ban");
      break;
  }
}

/** Largest `bans` message body {@link bansMessages} builds: below the 64 KiB message limit. */
export const MAX_BANS_MESSAGE_BYTES = 60_000;

/**
 * Splits a ban list into `bans` messages that each fit in a packet (at least one message, so an
 * empty list still carries the floor).
 *
 * @throws {RangeError} when a ban cannot be encoded
 */
export function bansMessages(floorMs: number, bans: readonly Ban[]): BansMessage[] {
  const out: BansMessage[] = [];
  let cur: Ban[] = [];
  let size = 0;
  for (const b of bans) {
    const n = encodeBan(b).length + 2;
    if (cur.length && (size + n > MAX_BANS_MESSAGE_BYTES || cur.length === 0xffff)) {
      out.push({ type: "bans", floorMs, bans: cur });
      cur = [];
      size = 0;
    }
    cur.push(b);
    size += n;
  }
  out.push({ type: "bans", floorMs, bans: cur });
  return out;
}

/**
 * Encodes one message (without the packet header).
 *
 * @throws {RangeError} when a field is too long for its length prefix
 */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer();
  writeMessage(w, m);
  return w.done();
}

/**
 * Encodes messages into one packet.
 *
 * @param msgs 1-255 messages, each already small enough (use {@link encodeMessage} to size them)
 * @throws {RangeError} when there are no messages, too many, or one is longer than 65535 bytes
 * @example
 * ```ts
 * const bytes = encodePacket([{ type: "ack", seq: 7 }]);
 * ```
 */
export function encodePacket(msgs: readonly (Message | Uint8Array)[]): Uint8Array {
  if (msgs.length < 1 || msgs.length > 255) throw new RangeError(`Cannot encode packet: ${msgs.length} messages`);
  const w = new Writer();
  w.u8(CODEC_VERSION);
  w.u8(msgs.length);
  for (const m of msgs) w.blob16(m instanceof Uint8Array ? m : encodeMessage(m), "message");
  return w.done();
}

/** Bytes a packet adds around its messages: header plus one length per message. */
export function packetOverhead(count: number): number {
  return 2 + 2 * count;
}

function typeName(t: number): Message["type"] | undefined {
  for (const [k, v] of Object.entries(MESSAGE_TYPE)) if (v === t) return k as Message["type"];
  return undefined;
}

function readBan(r: Reader): Ban {
  const n = r.u16("ban length");
  const off = r.offset;
  try {
    return decodeBan(r.bytes(n, "ban"), off);
  } catch (e) {
    if (e instanceof BanDecodeError) throw new ClusterDecodeError(e.message, "garbled", e.offset);
    throw e;
  }
}

function readMessage(r: Reader): Message {
  const at = r.offset;
  const t = r.u8("type");
  const type = typeName(t);
  switch (type) {
    case "ping":
      return {
        type,
        seq: r.u32("seq"),
        target: r.str8("target"),
        from: r.str8("from"),
        fromAddr: r.str8("from address"),
      };
    case "indirectPing":
      return {
        type,
        seq: r.u32("seq"),
        target: r.str8("target"),
        targetAddr: r.str8("target address"),
        from: r.str8("from"),
        fromAddr: r.str8("from address"),
        nack: r.bool("nack flag"),
      };
    case "ack":
    case "nack":
      return { type, seq: r.u32("seq") };
    case "suspect":
    case "dead":
      return { type, incarnation: r.u32("incarnation"), node: r.str8("node"), from: r.str8("from") };
    case "alive": {
      const n = r.u16("record length");
      const off = r.offset;
      return { type, record: decodeRecord(r.bytes(n, "record"), off) };
    }
    case "pushPull": {
      const join = r.bool("join flag");
      const count = r.u16("entry count");
      const entries: PushPullEntry[] = [];
      for (let i = 0; i < count; i++) {
        const sAt = r.offset;
        const s = r.u8("entry state");
        const state = (Object.keys(WIRE_STATE) as WireState[]).find((k) => WIRE_STATE[k] === s);
        if (!state) {
          throw new ClusterDecodeError(`Cannot decode push-pull: entry state ${s} is unknown`, "garbled", sAt);
        }
        const n = r.u16("record length");
        const off = r.offset;
        entries.push({ state, record: decodeRecord(r.bytes(n, "record"), off) });
      }
      return { type, join, entries };
    }
    case "announce":
      return { type, node: r.str8("node"), addr: r.str8("address") };
    case "configRequest":
      return { type };
    case "streamOpen":
      return { type, frameBytes: r.u32("frame length") };
    case "config": {
      const version = r.u32("version") * 2 ** 32 + r.u32("version");
      const hash = r.str8("hash");
      const n = r.u32("text length");
      const at = r.offset;
      const b = r.bytes(n, "config text");
      try {
        return { type, version, hash, text: dec.decode(b) };
      } catch {
        throw new ClusterDecodeError("Cannot decode gossip message: config text is not UTF-8", "garbled", at);
      }
    }
    case "purge":
      return { type, ban: readBan(r) };
    case "purgeAck":
      return { type, id: r.str8("ban id"), deleted: r.u32("deleted") };
    case "bans": {
      const floorMs = r.u32("floor") * 2 ** 32 + r.u32("floor");
      const count = r.u16("ban count");
      const bans: Ban[] = [];
      for (let i = 0; i < count; i++) bans.push(readBan(r));
      return { type, floorMs, bans };
    }
    default:
      throw new ClusterDecodeError(`Cannot decode gossip message: type ${t} is unknown`, "type", at);
  }
}

/**
 * Decodes a packet into its messages.
 *
 * @param b the bytes of one datagram or TCP frame (after decryption)
 * @param maxBytes largest acceptable input; {@link MAX_PACKET_BYTES} for UDP
 * @throws {ClusterDecodeError} when the packet is truncated, oversized, of another version, holds an
 *   unknown message type, a malformed field or trailing bytes
 */
export function decodePacket(b: Uint8Array, maxBytes: number = MAX_PACKET_BYTES): Message[] {
  if (b.length > maxBytes) {
    throw new ClusterDecodeError(`Cannot decode gossip packet: ${b.length} bytes exceed ${maxBytes}`, "oversized", 0);
  }
  if (b.length < 2) {
    throw new ClusterDecodeError(
      `Cannot decode gossip packet: length ${b.length} is less than header size 2`,
      "short",
      0,
    );
  }
  if (b[0] !== CODEC_VERSION) {
    throw new ClusterDecodeError(`Cannot decode gossip packet: version ${b[0]} is not ${CODEC_VERSION}`, "version", 0);
  }
  const count = b[1];
  if (count === 0) throw new ClusterDecodeError("Cannot decode gossip packet: it holds no messages", "garbled", 1);
  const r = new Reader(b, 2);
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    const n = r.u16(`length of message ${i}`);
    const start = r.offset;
    if (n === 0) throw new ClusterDecodeError(`Cannot decode gossip packet: message ${i} is empty`, "garbled", start);
    r.bytes(n, `message ${i}`);
    const mr = new Reader(b, start, start + n);
    out.push(readMessage(mr));
    if (mr.remaining !== 0) {
      throw new ClusterDecodeError(
        `Cannot decode gossip packet: message ${i} has ${mr.remaining} trailing bytes`,
        "garbled",
        mr.offset,
      );
    }
  }
  if (r.remaining !== 0) {
    throw new ClusterDecodeError(`Cannot decode gossip packet: ${r.remaining} trailing bytes`, "garbled", r.offset);
  }
  return out;
}
