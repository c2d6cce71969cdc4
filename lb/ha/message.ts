/**
 * Pure codec of the director HA channel's messages: the heartbeat (VRRP's advertisement) and the
 * connection-sync batch (the IPVS sync daemon's message). No sockets, clocks or logs. On the wire
 * each message travels inside the cluster key's AES-GCM envelope (`cluster/keyring.ts`), one UDP
 * datagram each; this codec is the plaintext inside it. Integers of the header are big-endian.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                  magic "WCHA" (57 43 48 41)                   |  0
 * +---------------+---------------+-------------------------------+
 * |  version = 1  |     type      |            flags              |  4
 * +---------------+---------------+-------------------------------+
 * |                                                               |  8
 * +        epoch: the sender's start time, Unix ms (u64)          +
 * |                                                               |
 * +---------------------------------------------------------------+
 * |                       sequence (u32)                          | 16
 * +---------------+---------------+-------------------------------+
 * |  node id len N|  group len G  |  node id (N bytes UTF-8) ...  | 20
 * +---------------+---------------+-------------------------------+
 * |  VIP group (G bytes UTF-8) ...                                |
 * +---------------------------------------------------------------+
 * type 1, heartbeat (8 bytes; 20 since sync sequences, older senders send the first 8):
 * +---------------+---------------+-------------------------------+
 * |   priority    |     role      |    advert interval ms (u16)   |
 * +---------------+---------------+-------------------------------+
 * |          connection entries the sender holds (u32)            |
 * +---------------------------------------------------------------+
 * |                                                               |  8
 * +     sync epoch: epoch of the sync stream below, 0 = none (u64) +
 * |                                                               |
 * +---------------------------------------------------------------+
 * |                  sync sequence (u32)                          | 16
 * +---------------------------------------------------------------+
 * type 2, sync without sequence (older senders; still decoded): the rest of the datagram is one
 *   connection-state batch in the format of `lb/conn_state_codec.ts` (its own magic, version and
 *   CRC-32C); a connection record with 0 ms remaining means the entry ended (expired or reset) on
 *   the MASTER.
 * type 3, sequenced sync: as type 2 after a sync sequence:
 * +---------------------------------------------------------------+
 * |                  sync sequence (u32)                          |  0
 * +---------------------------------------------------------------+
 * |  connection-state batch ...                                   |  4
 * +---------------------------------------------------------------+
 * type 4, resync request (a BACKUP asks a MASTER for its whole table, 16 bytes + T):
 * +---------------+---------------+-------------------------------+
 * |    reason     | target len T  |          reserved (0)         |  0
 * +---------------+---------------+-------------------------------+
 * |                                                               |  4
 * +           target's sync epoch the gap is in (u64)             +
 * |                                                               |
 * +---------------------------------------------------------------+
 * |           highest sync sequence missing (u32)                 | 12
 * +---------------------------------------------------------------+
 * |  target node id (T bytes UTF-8) ...                           | 16
 * +---------------------------------------------------------------+
 * ```
 *
 * - Epoch and sequence give replay protection on top of the envelope's (`replay_guard.ts`): a
 *   receiver accepts a sender's message only if its epoch is newer than the last one seen, or equal
 *   with a sequence not yet seen within the window. A restarted sender has a newer epoch.
 * - Flags: heartbeat none (0); sync bit 0 = part of a full table (not only changes), bit 1 = the
 *   last part of a full table, bit 2 = the first part of a full table.
 * - Sync sequence (types 1 and 3, `sync_gap_tracker.ts`): a counter of the sender's sync datagrams
 *   alone, from 1 in each epoch (the header's sequence also counts heartbeats, so a lost heartbeat
 *   would look like a lost batch). A MASTER's heartbeat carries its own epoch and the last sync
 *   sequence it sent (a BACKUP sees a lost last batch within one interval); a BACKUP's carries the
 *   epoch of the MASTER it follows and the highest sequence it holds with nothing missing before it
 *   (the MASTER shows how far behind each BACKUP is). 0 / 0: no stream.
 * - Resync reasons: 1 a gap (lost or dropped batches), 2 nothing held of the target's epoch yet.
 * - Versions: the header layout has not changed since version 1. A heartbeat of an older sender is
 *   8 bytes long (decoded with sync epoch and sequence 0); type 2 is still decoded. An older receiver
 *   reads the first 8 bytes of a heartbeat and refuses types 3 and 4 as unknown (counted, dropped):
 *   upgrade BACKUPs before the MASTER, or an old BACKUP gets no sync until its MASTER is old too.
 * - Role: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT. Priority 0 in a MASTER heartbeat releases the group.
 * - The node id and the group are bounded at 255 bytes (one length byte); the group never exceeds 64
 *   (`director.ha.vipGroup`).
 *
 * @module
 */
import type { HaRole } from "./election.ts";

/** "WCHA" as a big-endian u32. */
export const HA_MAGIC = 0x57434841;
/** The version this codec writes and reads. */
export const HA_VERSION = 1;
/** Fixed header bytes before the node id. */
export const HA_HEADER_BYTES = 22;
/** Bytes of a heartbeat's body as this codec writes it. */
export const HEARTBEAT_BODY_BYTES = 20;
/** Bytes of a heartbeat's body from a sender without sync sequences (still accepted). */
export const HEARTBEAT_BODY_BYTES_V1 = 8;
/** Fixed bytes of a resync request's body before the target id. */
export const RESYNC_BODY_BYTES = 16;
/** Sync flag: part of a full table. */
export const SYNC_FULL = 1;
/** Sync flag: the last part of a full table. */
export const SYNC_FULL_END = 2;
/** Sync flag: the first part of a full table. */
export const SYNC_FULL_START = 4;

/** Message types: wire values, append only. */
export const HaMessageType = { HEARTBEAT: 1, SYNC: 2, SYNC_SEQ: 3, RESYNC: 4 } as const;

/** Why a BACKUP asks for a resync: wire values, append only. */
export const ResyncReason = { GAP: 1, NO_STREAM: 2 } as const;
const RESYNC_REASONS = ["", "gap", "no-stream"] as const;

const ROLES: readonly HaRole[] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/** Fields every message has. */
export interface HaHeader {
  /** Sender's start time, Unix ms. */
  epoch: number;
  /** Sender's message counter (u32). */
  sequence: number;
  /** Sender's node id. */
  nodeId: string;
  /** VIP group. */
  group: string;
}

/** A heartbeat. */
export interface HaHeartbeat extends HaHeader {
  type: "heartbeat";
  /** 1-254; 0 when a MASTER releases the group. */
  priority: number;
  role: HaRole;
  /** The sender's heartbeat interval. */
  advertIntervalMs: number;
  /** Connection entries in the sender's table (status only). */
  entries: number;
  /**
   * Epoch of the sync stream {@link syncSeq} counts in: a MASTER's own, a BACKUP's MASTER's; 0 when
   * none (and from older senders).
   */
  syncEpoch: number;
  /** MASTER: last sync sequence sent. BACKUP: highest held with none missing before it. 0: none. */
  syncSeq: number;
}

/** A connection-sync batch. */
export interface HaSync extends HaHeader {
  type: "sync";
  /** {@link SYNC_FULL} | {@link SYNC_FULL_END} | {@link SYNC_FULL_START}. */
  flags: number;
  /** Sync sequence (type 3); undefined for an older sender's type 2. */
  syncSeq?: number;
  /** An encoded connection-state batch (`encodeConnState`). */
  payload: Uint8Array;
}

/** A BACKUP's request for the whole table of the MASTER `target`. */
export interface HaResync extends HaHeader {
  type: "resync";
  reason: "gap" | "no-stream";
  /** The MASTER asked. */
  target: string;
  /** The target's epoch the missing batches belong to. */
  targetEpoch: number;
  /** Highest sync sequence missing: a full table starting after it repairs the gap. */
  missingUpTo: number;
}

/** A decoded message. */
export type HaMessage = HaHeartbeat | HaSync | HaResync;

/** Why a datagram was refused; the `reason` label of the dropped-messages counter. */
export type HaDecodeReason = "short" | "magic" | "version" | "type" | "role" | "reason";

/** A datagram that is not a valid HA message. */
export class HaDecodeError extends SyntaxError {
  /** Counter label. */
  readonly reason: HaDecodeReason;
  /** @param message text; @param reason label */
  constructor(message: string, reason: HaDecodeReason) {
    super(message);
    this.name = "HaDecodeError";
    this.reason = reason;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: false });

function header(m: HaHeader, type: number, flags: number, bodyBytes: number): { out: Uint8Array; off: number } {
  const id = enc.encode(m.nodeId);
  const group = enc.encode(m.group);
  if (id.length > 255) throw new RangeError(`Node id "${m.nodeId}" is longer than 255 bytes`);
  if (group.length > 255) throw new RangeError(`VIP group "${m.group}" is longer than 255 bytes`);
  const out = new Uint8Array(HA_HEADER_BYTES + id.length + group.length + bodyBytes);
  const v = new DataView(out.buffer);
  v.setUint32(0, HA_MAGIC);
  out[4] = HA_VERSION;
  out[5] = type;
  v.setUint16(6, flags);
  v.setBigUint64(8, BigInt(Math.max(0, Math.floor(m.epoch))));
  v.setUint32(16, m.sequence >>> 0);
  out[20] = id.length;
  out[21] = group.length;
  out.set(id, 22);
  out.set(group, 22 + id.length);
  return { out, off: 22 + id.length + group.length };
}

/**
 * Encodes a heartbeat.
 *
 * @throws {RangeError} for a node id or group over 255 bytes, or a field out of range
 */
export function encodeHeartbeat(m: Omit<HaHeartbeat, "type">): Uint8Array {
  if (m.priority < 0 || m.priority > 255) throw new RangeError(`Priority ${m.priority} is not in 0-255`);
  const { out, off } = header(m, HaMessageType.HEARTBEAT, 0, HEARTBEAT_BODY_BYTES);
  const v = new DataView(out.buffer);
  out[off] = m.priority;
  out[off + 1] = ROLES.indexOf(m.role);
  v.setUint16(off + 2, Math.min(0xffff, m.advertIntervalMs));
  v.setUint32(off + 4, Math.min(0xffffffff, m.entries));
  v.setBigUint64(off + 8, BigInt(Math.max(0, Math.floor(m.syncEpoch))));
  v.setUint32(off + 16, m.syncSeq >>> 0);
  return out;
}

/**
 * Encodes a sync batch around an encoded connection-state payload.
 *
 * @throws {RangeError} for a node id or group over 255 bytes
 */
export function encodeSync(m: Omit<HaSync, "type">): Uint8Array {
  if (m.syncSeq === undefined) {
    const { out, off } = header(m, HaMessageType.SYNC, m.flags, m.payload.length);
    out.set(m.payload, off);
    return out;
  }
  const { out, off } = header(m, HaMessageType.SYNC_SEQ, m.flags, 4 + m.payload.length);
  new DataView(out.buffer).setUint32(off, m.syncSeq >>> 0);
  out.set(m.payload, off + 4);
  return out;
}

/**
 * Encodes a resync request.
 *
 * @throws {RangeError} for a node id, group or target over 255 bytes
 */
export function encodeResync(m: Omit<HaResync, "type">): Uint8Array {
  const target = enc.encode(m.target);
  if (target.length > 255) throw new RangeError(`Target node id "${m.target}" is longer than 255 bytes`);
  const { out, off } = header(m, HaMessageType.RESYNC, 0, RESYNC_BODY_BYTES + target.length);
  const v = new DataView(out.buffer);
  out[off] = RESYNC_REASONS.indexOf(m.reason);
  out[off + 1] = target.length;
  v.setBigUint64(off + 4, BigInt(Math.max(0, Math.floor(m.targetEpoch))));
  v.setUint32(off + 12, m.missingUpTo >>> 0);
  out.set(target, off + RESYNC_BODY_BYTES);
  return out;
}

/**
 * Decodes one datagram's plaintext.
 *
 * @throws {HaDecodeError} when it is truncated, of another protocol or version, or malformed
 */
export function decodeHaMessage(b: Uint8Array): HaMessage {
  if (b.length < HA_HEADER_BYTES) {
    throw new HaDecodeError(`Cannot decode HA message: length ${b.length} is less than ${HA_HEADER_BYTES}`, "short");
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0) !== HA_MAGIC) {
    throw new HaDecodeError(`Cannot decode HA message: magic 0x${v.getUint32(0).toString(16)} is not "WCHA"`, "magic");
  }
  if (b[4] !== HA_VERSION) throw new HaDecodeError(`Cannot decode HA message: version ${b[4]} is unknown`, "version");
  const type = b[5];
  const flags = v.getUint16(6);
  const idLen = b[20], groupLen = b[21];
  const off = HA_HEADER_BYTES + idLen + groupLen;
  if (b.length < off) {
    throw new HaDecodeError(`Cannot decode HA message: length ${b.length} is less than its header's ${off}`, "short");
  }
  const h: HaHeader = {
    epoch: Number(v.getBigUint64(8)),
    sequence: v.getUint32(16),
    nodeId: dec.decode(b.subarray(22, 22 + idLen)),
    group: dec.decode(b.subarray(22 + idLen, off)),
  };
  if (type === HaMessageType.HEARTBEAT) {
    if (b.length < off + HEARTBEAT_BODY_BYTES_V1) {
      throw new HaDecodeError(
        `Cannot decode HA heartbeat: length ${b.length} is less than ${off + HEARTBEAT_BODY_BYTES_V1}`,
        "short",
      );
    }
    const sequenced = b.length >= off + HEARTBEAT_BODY_BYTES;
    const role = ROLES[b[off + 1]];
    if (!role) throw new HaDecodeError(`Cannot decode HA heartbeat: role ${b[off + 1]} is unknown`, "role");
    return {
      type: "heartbeat",
      ...h,
      priority: b[off],
      role,
      advertIntervalMs: v.getUint16(off + 2),
      entries: v.getUint32(off + 4),
      syncEpoch: sequenced ? Number(v.getBigUint64(off + 8)) : 0,
      syncSeq: sequenced ? v.getUint32(off + 16) : 0,
    };
  }
  if (type === HaMessageType.SYNC) return { type: "sync", ...h, flags, payload: b.slice(off) };
  if (type === HaMessageType.SYNC_SEQ) {
    if (b.length < off + 4) {
      throw new HaDecodeError(`Cannot decode HA sync: length ${b.length} is less than ${off + 4}`, "short");
    }
    return { type: "sync", ...h, flags, syncSeq: v.getUint32(off), payload: b.slice(off + 4) };
  }
  if (type === HaMessageType.RESYNC) {
    if (b.length < off + RESYNC_BODY_BYTES || b.length < off + RESYNC_BODY_BYTES + b[off + 1]) {
      throw new HaDecodeError(`Cannot decode HA resync request: length ${b.length} is too short`, "short");
    }
    const reason = RESYNC_REASONS[b[off]];
    if (!reason) throw new HaDecodeError(`Cannot decode HA resync request: reason ${b[off]} is unknown`, "reason");
    return {
      type: "resync",
      ...h,
      reason,
      target: dec.decode(b.subarray(off + RESYNC_BODY_BYTES, off + RESYNC_BODY_BYTES + b[off + 1])),
      targetEpoch: Number(v.getBigUint64(off + 4)),
      missingUpTo: v.getUint32(off + 12),
    };
  }
  throw new HaDecodeError(`Cannot decode HA message: type ${type} is unknown`, "type");
}
