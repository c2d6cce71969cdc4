/**
 * The eBPF program of the director's DR/TUN fast path (see `dr_fast_path.ts`): a tcx ingress classifier
 * that forwards packets of established, known flows in the kernel, as LVS does, and passes
 * everything else on to the user-space forwarding loop. Pure: no I/O; assembled with `ebpf_asm.ts`.
 *
 * Maps (all values little-endian, as the CPU reads them):
 *
 * ```text
 * flows  (hash)  key 12 B: saddr be32 | daddr be32 | sport be16 | dport be16   (frame bytes 26..37 as on the wire)
 *                value 32 B: +0 u32 real slot  +4 u32 1 = scheduled by the program (its FIN/RST stays here), else 0
 *                            +8 u64 last seen (bpf_ktime_get_coarse_ns)  +16 u64 packets
 *                            +24 u64 bytes (IP bytes)
 * reals  (array) key u32 slot
 *                value 52 B: +0 dst MAC (6)  +6 src MAC (6)  +12 u32 egress ifindex  +16 u32 valid (1) / passed (0)
 *                            +20 u32 method: 0 DR, 1 TUN
 *                            TUN only: +24 u32 largest inner packet (MTU − 20)  +28 u32 partial checksum of the
 *                            template (sum of its 16-bit big-endian words)  +32 outer IPv4 header template (20 B:
 *                            45 00 | 0000 | 0000 | 4000 | 40 04 | 0000 | director | real server)
 * real_counters (per-CPU array) key u32 slot
 *                value 16 B per CPU: +0 u64 packets  +8 u64 bytes (IP bytes), written only by the program
 * services (hash) key 8 B: VIP be32 | port be16 | 0 0          (only mh services whose SYNs the kernel schedules)
 *                value 4 B: u32 index of the service's first entry in `maglev`
 * maglev (array) key u32 (service index + slot), value u32: real slot + 1, 0 = user space decides
 *                (MAGLEV_TABLE_SIZE entries per service, the Maglev table of `lb/scheduler/mh.ts`)
 * new_flows (ringbuf) records of 16 B: flow key (12 B, as in `flows`) | u32 LE: real slot | kind << 24
 *                (kind 0: a SYN scheduled here; else the FIN (1) / RST (4) bits of an end of such a flow)
 * ```
 *
 * What it does with a frame (Ethernet at offset 0 at tc ingress):
 *
 * ```text
 * copy frame bytes 0..47 to the stack (from the skb's linear data; if they are not all there, with
 *   bpf_skb_load_bytes; shorter frames cannot be TCP: → TCX_NEXT)
 * not IPv4, IHL ≠ 5, protocol ≠ TCP, a fragment (MF or offset), or a SYN with other flags → TCX_NEXT
 * a SYN (without ACK, FIN, RST) to a VIP:port in `services` (new connections in the kernel, Katran's way):
 *   slot = maglev[index + maglevFlowHash(saddr) mod MAGLEV_TABLE_SIZE] − 1; no owner, or its `reals` slot invalid,
 *   or a TUN slot and the SYN too long for the tunnel or without DF → TCX_NEXT; else flows[...] = {slot} (replacing
 *   an old entry of the 4-tuple), a record to new_flows (full → the flow is deleted again and the SYN goes to user
 *   space), and forward as below (DR: MACs rewritten; TUN: encapsulated)
 * look up flows[saddr, daddr, sport, dport] (only DR and TUN flows of VIP services are ever installed) → absent: TCX_NEXT
 * FIN or RST: a flow the program did not schedule → TCX_NEXT (the user-space table sees the state change); one it
 *   did schedule is forwarded here and recorded in new_flows (kind = the flags; full ring → TCX_NEXT)
 * look up reals[slot] → invalid (real removed, MAC unknown, not DR): TCX_NEXT
 * TUN: inner packet longer than the slot's limit (so also GSO super-frames) or without DF → TCX_NEXT (user space
 *   answers with fragmentation-needed or fragments, as IPVS does); else build the outer header on the stack from
 *   the template (tot_len = inner + 20, TOS copied, checksum = ~fold(partial + tot_len + TOS)),
 *   bpf_skb_adjust_room(+20, MAC, ENCAP_L3_IPV4) and store it after the Ethernet header (into the linear data;
 *   bpf_skb_store_bytes if it is not there)
 * flow: last seen = now (the coarse clock: CLOCK_MONOTONIC as of the last tick, a jiffy's resolution, plenty for
 *   idle timeouts of seconds, and about 13 ns per packet cheaper than bpf_ktime_get_ns in this VM), packets += 1,
 *   bytes += len − 14 (atomic adds: a flow's packets arrive on any CPU; a SYN scheduled here wrote them in the new
 *   value already); real_counters[slot] likewise, with plain adds (this CPU's value, written by nothing else)
 * rewrite the Ethernet destination and source (12 bytes: stores into the linear data, which the kernel made
 *   writable before the program ran if the skb was a clone; bpf_skb_store_bytes if the frame is not linear there)
 *   → bpf_redirect(ifindex, 0) (TCX_REDIRECT); on a veth
 *   whose peer is in another namespace bpf_redirect_peer(ifindex, 0): straight into the peer's receive path
 * ```
 *
 * The hash is user space's mh hash, one definition (`lb/scheduler/mh.ts`, `fmix32` of `lb/scheduler/_hash.ts`):
 *
 * ```text
 * maglevFlowHash(saddr) = fmix32(saddr as a u32, most significant byte first)
 * fmix32(h): h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16   (32-bit arithmetic)
 * ```
 *
 * {@link MAGLEV_HASH_VECTORS} are checked against both sides: the TypeScript in `lb/scheduler/mh_test.ts`, the
 * program (run in the kernel) in `dr_fast_path_test.ts`.
 *
 * DR forwards GSO super-frames and CHECKSUM_PARTIAL skbs as they are (the IP packet is unchanged). The TUN outer
 * header has ID 0 with DF set (RFC 6864: the ID of an atomic datagram is meaningless).
 *
 * @module
 */
import { BPF_FUNC, BPF_RB_NO_WAKEUP, EbpfProgram, FP, OP, TCX_DROP, TCX_NEXT } from "./ebpf_asm.ts";

/** Entries of one service's Maglev table (`MH_TABLE_SIZE` of `lb/scheduler/mh.ts`, a prime). */
export const MAGLEV_TABLE_SIZE = 65537;
/** Bytes of a `services` key. */
export const SERVICE_KEY_BYTES = 8;
/** Bytes of a `new_flows` record. */
export const NEW_FLOW_RECORD_BYTES = 16;

/**
 * Test vectors of the Maglev flow hash: client address (u32) → slot `maglevFlowHash(saddr) mod MAGLEV_TABLE_SIZE`.
 * Computed with a separate Python implementation of the formula in the module doc; both implementations here are
 * tested against them.
 */
export const MAGLEV_HASH_VECTORS: readonly { saddr: string; slot: number }[] = [
  { saddr: "0.0.0.0", slot: 0 },
  { saddr: "0.0.0.1", slot: 55146 },
  { saddr: "10.0.0.1", slot: 34948 },
  { saddr: "10.77.0.10", slot: 7109 },
  { saddr: "10.77.0.20", slot: 4127 },
  { saddr: "192.168.1.20", slot: 60903 },
  { saddr: "255.255.255.255", slot: 60745 },
];

/** Bytes of a `flows` key. */
export const FLOW_KEY_BYTES = 12;
/** Bytes of a `flows` value. */
export const FLOW_VALUE_BYTES = 32;
/** Bytes of a `reals` value. */
export const REAL_VALUE_BYTES = 52;
/** Offset of the outer IPv4 header template in a `reals` value. */
export const REAL_OUTER_HEADER_OFFSET = 32;
/** `reals` method values. */
export const FAST_PATH_METHOD = { dr: 0, tun: 1 } as const;
const BPF_ADJ_ROOM_MAC = 1;
const BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 = 2;
/** Bytes of a `real_counters` value. */
export const REAL_COUNTER_BYTES = 16;

const { MOV64_IMM, MOV64_REG, ADD64_IMM, ADD64_REG, AND64_IMM, RSH64_IMM, XOR64_IMM, END_TO_BE } = OP;
const { MUL64_IMM, MOD64_IMM, MOV32_REG, XOR64_REG, LSH64_IMM, OR64_REG } = OP;
const { LDX_B, LDX_H, LDX_W, LDX_DW, STX_B, STX_H, STX_W, STX_DW, ATOMIC_ADD_DW } = OP;
/** `struct __sk_buff` offsets of `data` and `data_end` (read as u32; the verifier makes them packet pointers). */
const SKB_DATA = 76, SKB_DATA_END = 80;
const { JNE_IMM, JEQ_IMM, JGT_REG, JSET_IMM, JA, CALL, EXIT } = OP;

/** Descriptors of the program's maps. */
export interface DrFastPathMaps {
  /** `flows` hash map. */
  flows: number;
  /** `reals` array map. */
  reals: number;
  /** `real_counters` array map. */
  realCounters: number;
  /** `services` hash map (mh services scheduled in the kernel). */
  services: number;
  /** `maglev` array map. */
  maglev: number;
  /** `new_flows` ring buffer. */
  newFlows: number;
}

/**
 * Builds the fast-path program.
 *
 * @param maps the map descriptors (created by the caller with the sizes above)
 * @param opts.redirectPeer hand frames to the receive path of the interface's veth peer (`bpf_redirect_peer`)
 *   instead of transmitting them on it (`bpf_redirect`): only for a veth whose peer is in another namespace
 *   (`veth_peer.ts`), where it saves the backlog round of the transmit; anywhere else the kernel drops them
 * @returns the instructions
 */
export function drFastPathProgram(
  maps: DrFastPathMaps,
  opts: { redirectPeer?: boolean } = {},
): Uint8Array<ArrayBuffer> {
  const p = new EbpfProgram();
  // Stack: fp-50 .. fp-3 holds frame bytes 0..47 (byte k at fp-50+k, so the addresses at 26 and 30 are 4-aligned); fp-56 the reals key; fp-64 the services key;
  // fp-80 .. fp-61 the outer header (TUN); fp-112 .. fp-81 a new flow's value; fp-128 .. fp-113 its record;
  // fp-136 the maglev key.
  const outer = -80;
  const newValue = -112, record = -128, maglevKey = -136, serviceKey = -64, endFlags = -140;
  const at = (k: number) => -50 + k;
  p.op(MOV64_REG, 6, 1, 0, 0) // r6 = skb
    // Frame bytes 0..47 to the stack: read straight from the skb's linear data when they are there, else (short
    // or non-linear) through bpf_skb_load_bytes()
    .op(LDX_W, 2, 6, SKB_DATA, 0)
    .op(LDX_W, 3, 6, SKB_DATA_END, 0)
    .op(MOV64_REG, 1, 2, 0, 0)
    .op(ADD64_IMM, 1, 0, 0, 48)
    .op(JGT_REG, 1, 3, "loadbytes", 0)
    .op(LDX_H, 1, 2, 0, 0)
    .op(STX_H, FP, 1, at(0), 0);
  for (let k = 2; k < 46; k += 4) p.op(LDX_W, 1, 2, k, 0).op(STX_W, FP, 1, at(k), 0);
  p.op(LDX_H, 1, 2, 46, 0)
    .op(STX_H, FP, 1, at(46), 0)
    .op(JA, 0, 0, "loaded", 0)
    .label("loadbytes")
    .op(MOV64_REG, 1, 6, 0, 0)
    .op(MOV64_IMM, 2, 0, 0, 0)
    .stackPtr(3, at(0))
    .op(MOV64_IMM, 4, 0, 0, 48)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbLoadBytes)
    .op(JNE_IMM, 0, 0, "next", 0)
    .label("loaded")
    .plainIpv4(at, 6, "next")
    .op(LDX_B, 1, FP, at(47), 0) // TCP flags
    .op(MOV64_REG, 2, 1, 0, 0)
    .op(AND64_IMM, 2, 0, 0, 0x17) // ACK | RST | SYN | FIN
    .op(JEQ_IMM, 2, 0, "syn", 0x02) // a SYN alone: a new connection
    .op(JSET_IMM, 1, 0, "next", 0x02) // other SYNs
    .op(AND64_IMM, 1, 0, 0, 0x05) // FIN | RST, kept for the record below
    .op(STX_W, FP, 1, endFlags, 0)
    // r7 = flows[frame bytes 26..37]
    .loadMap(1, maps.flows)
    .stackPtr(2, at(26))
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "next", 0)
    .op(MOV64_REG, 7, 0, 0, 0)
    // FIN or RST: only a flow the kernel scheduled ends here (with a record); others go to user space
    .op(LDX_W, 1, FP, endFlags, 0)
    .op(JEQ_IMM, 1, 0, "known", 0)
    .op(LDX_W, 1, 7, 4, 0)
    .op(JEQ_IMM, 1, 0, "next", 0)
    .label("known")
    // r8 = reals[slot]
    .op(LDX_W, 1, 7, 0, 0)
    .op(STX_W, FP, 1, -56, 0)
    .loadMap(1, maps.reals)
    .stackPtr(2, -56)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "next", 0)
    .op(MOV64_REG, 8, 0, 0, 0)
    .op(LDX_W, 1, 8, 16, 0)
    .op(JEQ_IMM, 1, 0, "next", 0)
    .label("forward")
    // r9 = IP bytes
    .op(LDX_W, 9, 6, 0, 0) // skb->len
    .op(ADD64_IMM, 9, 0, 0, -14)
    .op(LDX_W, 1, 8, 20, 0) // method
    .op(JEQ_IMM, 1, 0, "count", FAST_PATH_METHOD.dr)
    // TUN: fits the tunnel's MTU (not GSO) and DF set, else user space
    .op(LDX_W, 1, 8, 24, 0)
    .op(JGT_REG, 9, 1, "next", 0)
    .op(LDX_B, 1, FP, at(20), 0)
    .op(AND64_IMM, 1, 0, 0, 0x40)
    .op(JEQ_IMM, 1, 0, "next", 0);
  for (let k = 0; k < 20; k += 4) {
    p.op(LDX_W, 1, 8, REAL_OUTER_HEADER_OFFSET + k, 0).op(STX_W, FP, 1, outer + k, 0);
  }
  p.op(LDX_H, 2, FP, at(16), 0) // inner total length, big-endian
    .op(END_TO_BE, 2, 0, 0, 16)
    .op(ADD64_IMM, 2, 0, 0, 20) // r2 = outer total length
    .op(MOV64_REG, 1, 2, 0, 0)
    .op(END_TO_BE, 1, 0, 0, 16)
    .op(STX_H, FP, 1, outer + 2, 0)
    .op(LDX_B, 3, FP, at(15), 0) // TOS
    .op(STX_B, FP, 3, outer + 1, 0)
    .op(LDX_W, 4, 8, 28, 0) // partial checksum of the template
    .op(ADD64_REG, 4, 2, 0, 0)
    .op(ADD64_REG, 4, 3, 0, 0)
    .op(MOV64_REG, 5, 4, 0, 0)
    .op(RSH64_IMM, 5, 0, 0, 16)
    .op(AND64_IMM, 4, 0, 0, 0xffff)
    .op(ADD64_REG, 4, 5, 0, 0)
    .op(MOV64_REG, 5, 4, 0, 0)
    .op(RSH64_IMM, 5, 0, 0, 16)
    .op(AND64_IMM, 4, 0, 0, 0xffff)
    .op(ADD64_REG, 4, 5, 0, 0)
    .op(XOR64_IMM, 4, 0, 0, 0xffff)
    .op(AND64_IMM, 4, 0, 0, 0xffff)
    .op(END_TO_BE, 4, 0, 0, 16)
    .op(STX_H, FP, 4, outer + 10, 0)
    .op(MOV64_REG, 1, 6, 0, 0)
    .op(MOV64_IMM, 2, 0, 0, 20)
    .op(MOV64_IMM, 3, 0, 0, BPF_ADJ_ROOM_MAC)
    .op(MOV64_IMM, 4, 0, 0, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbAdjustRoom)
    .op(JNE_IMM, 0, 0, "next", 0)
    // the outer header straight into the linear data after the Ethernet header, else bpf_skb_store_bytes()
    .op(LDX_W, 2, 6, SKB_DATA, 0)
    .op(LDX_W, 3, 6, SKB_DATA_END, 0)
    .op(MOV64_REG, 1, 2, 0, 0)
    .op(ADD64_IMM, 1, 0, 0, 34)
    .op(JGT_REG, 1, 3, "storeouter", 0);
  for (let k = 0; k < 20; k += 4) p.op(LDX_W, 1, FP, outer + k, 0).op(STX_W, 2, 1, 14 + k, 0);
  p.op(JA, 0, 0, "count", 0)
    .label("storeouter")
    .op(MOV64_REG, 1, 6, 0, 0)
    .op(MOV64_IMM, 2, 0, 0, 14)
    .stackPtr(3, outer)
    .op(MOV64_IMM, 4, 0, 0, 20)
    .op(MOV64_IMM, 5, 0, 0, 0)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbStoreBytes)
    .op(JNE_IMM, 0, 0, "drop", 0) // the frame has room for a header it could not get: not for user space
    .label("count")
    .op(JEQ_IMM, 7, 0, "rcount", 0) // a SYN scheduled here: its flow's value is new and counted
    // A kernel-scheduled flow's FIN or RST: record it (kind = the flags) for the loop's table
    .op(LDX_W, 1, FP, endFlags, 0)
    .op(JEQ_IMM, 1, 0, "stamp", 0)
    .op(LDX_W, 2, FP, at(26), 0)
    .op(STX_W, FP, 2, record, 0)
    .op(LDX_W, 2, FP, at(30), 0)
    .op(STX_W, FP, 2, record + 4, 0)
    .op(LDX_W, 2, FP, at(34), 0)
    .op(STX_W, FP, 2, record + 8, 0)
    .op(LSH64_IMM, 1, 0, 0, 24)
    .op(LDX_W, 2, 7, 0, 0)
    .op(OR64_REG, 2, 1, 0, 0)
    .op(STX_W, FP, 2, record + 12, 0)
    .loadMap(1, maps.newFlows)
    .stackPtr(2, record)
    .op(MOV64_IMM, 3, 0, 0, NEW_FLOW_RECORD_BYTES)
    .op(MOV64_IMM, 4, 0, 0, BPF_RB_NO_WAKEUP)
    .op(CALL, 0, 0, 0, BPF_FUNC.ringbufOutput)
    .op(JNE_IMM, 0, 0, "next", 0) // ring full: the loop sees the packet itself
    .label("stamp")
    .op(CALL, 0, 0, 0, BPF_FUNC.ktimeGetCoarseNs)
    .op(STX_DW, 7, 0, 8, 0) // last seen
    .op(MOV64_IMM, 1, 0, 0, 1)
    .op(ATOMIC_ADD_DW, 7, 1, 16, 0)
    .op(ATOMIC_ADD_DW, 7, 9, 24, 0)
    // real_counters[slot] (the key is still at fp-56; this CPU's value)
    .label("rcount")
    .loadMap(1, maps.realCounters)
    .stackPtr(2, -56)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "rewrite", 0)
    .op(LDX_DW, 1, 0, 0, 0) // plain adds: only this CPU writes its value, and not concurrently
    .op(ADD64_IMM, 1, 0, 0, 1)
    .op(STX_DW, 0, 1, 0, 0)
    .op(LDX_DW, 1, 0, 8, 0)
    .op(ADD64_REG, 1, 9, 0, 0)
    .op(STX_DW, 0, 1, 8, 0)
    .label("rewrite")
    // The MACs straight into the skb's linear data (the kernel makes a cloned header writable first), else
    // through bpf_skb_store_bytes()
    .op(LDX_W, 2, 6, SKB_DATA, 0)
    .op(LDX_W, 3, 6, SKB_DATA_END, 0)
    .op(MOV64_REG, 1, 2, 0, 0)
    .op(ADD64_IMM, 1, 0, 0, 12)
    .op(JGT_REG, 1, 3, "storemacs", 0);
  for (let k = 0; k < 12; k += 4) p.op(LDX_W, 1, 8, k, 0).op(STX_W, 2, 1, k, 0);
  p.label("redirect")
    .op(LDX_W, 1, 8, 12, 0) // egress ifindex
    .op(MOV64_IMM, 2, 0, 0, 0)
    .op(CALL, 0, 0, 0, opts.redirectPeer ? BPF_FUNC.redirectPeer : BPF_FUNC.redirect)
    .op(EXIT, 0, 0, 0, 0)
    .label("storemacs")
    .op(MOV64_REG, 1, 6, 0, 0)
    .op(MOV64_IMM, 2, 0, 0, 0)
    .op(MOV64_REG, 3, 8, 0, 0)
    .op(MOV64_IMM, 4, 0, 0, 12)
    .op(MOV64_IMM, 5, 0, 0, 0)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbStoreBytes)
    .op(JNE_IMM, 0, 0, "next", 0)
    .op(JA, 0, 0, "redirect", 0)
    .label("drop")
    .op(MOV64_IMM, 0, 0, 0, TCX_DROP)
    .op(EXIT, 0, 0, 0, 0)
    .label("syn")
    // r7 = services[VIP, port] (the first entry of the service's Maglev table)
    .op(LDX_W, 1, FP, at(30), 0)
    .op(STX_W, FP, 1, serviceKey, 0)
    .op(LDX_H, 1, FP, at(36), 0)
    .op(STX_H, FP, 1, serviceKey + 4, 0)
    .op(MOV64_IMM, 1, 0, 0, 0)
    .op(STX_H, FP, 1, serviceKey + 6, 0)
    .loadMap(1, maps.services)
    .stackPtr(2, serviceKey)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "next", 0)
    .op(LDX_W, 7, 0, 0, 0)
    // r1 = fmix32(saddr) mod MAGLEV_TABLE_SIZE (see the module doc)
    .op(LDX_W, 1, FP, at(26), 0)
    .op(END_TO_BE, 1, 0, 0, 32)
    .op(MOV64_REG, 2, 1, 0, 0)
    .op(RSH64_IMM, 2, 0, 0, 16)
    .op(XOR64_REG, 1, 2, 0, 0)
    .op(MUL64_IMM, 1, 0, 0, 0x85ebca6b | 0)
    .op(MOV32_REG, 1, 1, 0, 0)
    .op(MOV64_REG, 2, 1, 0, 0)
    .op(RSH64_IMM, 2, 0, 0, 13)
    .op(XOR64_REG, 1, 2, 0, 0)
    .op(MUL64_IMM, 1, 0, 0, 0xc2b2ae35 | 0)
    .op(MOV32_REG, 1, 1, 0, 0)
    .op(MOV64_REG, 2, 1, 0, 0)
    .op(RSH64_IMM, 2, 0, 0, 16)
    .op(XOR64_REG, 1, 2, 0, 0)
    .op(MOD64_IMM, 1, 0, 0, MAGLEV_TABLE_SIZE)
    .op(ADD64_REG, 1, 7, 0, 0)
    .op(STX_W, FP, 1, maglevKey, 0)
    .loadMap(1, maps.maglev)
    .stackPtr(2, maglevKey)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "next", 0)
    .op(LDX_W, 1, 0, 0, 0)
    .op(JEQ_IMM, 1, 0, "next", 0) // no owner: user space decides
    .op(ADD64_IMM, 1, 0, 0, -1)
    .op(STX_W, FP, 1, -56, 0)
    // r8 = reals[slot]: valid, DR or TUN, else user space
    .loadMap(1, maps.reals)
    .stackPtr(2, -56)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "next", 0)
    .op(MOV64_REG, 8, 0, 0, 0)
    .op(LDX_W, 1, 8, 16, 0)
    .op(JEQ_IMM, 1, 0, "next", 0)
    .op(LDX_W, 1, 8, 20, 0)
    .op(JEQ_IMM, 1, 0, "synok", FAST_PATH_METHOD.dr)
    .op(JNE_IMM, 1, 0, "next", FAST_PATH_METHOD.tun)
    // TUN: a SYN that will not fit the tunnel or has no DF goes to user space before a flow exists (the same test
    // as when forwarding below, so a flow is entered only for a SYN that leaves here)
    .op(LDX_W, 2, 6, 0, 0) // skb->len
    .op(ADD64_IMM, 2, 0, 0, -14)
    .op(LDX_W, 1, 8, 24, 0)
    .op(JGT_REG, 2, 1, "next", 0)
    .op(LDX_B, 1, FP, at(20), 0)
    .op(AND64_IMM, 1, 0, 0, 0x40)
    .op(JEQ_IMM, 1, 0, "next", 0)
    .label("synok")
    // flows[key] = {slot}
    .op(MOV64_IMM, 1, 0, 0, 0)
    .op(STX_DW, FP, 1, newValue, 0)
    .op(STX_DW, FP, 1, newValue + 8, 0)
    .op(STX_DW, FP, 1, newValue + 16, 0)
    .op(STX_DW, FP, 1, newValue + 24, 0)
    .op(LDX_W, 1, FP, -56, 0)
    .op(STX_W, FP, 1, newValue, 0)
    .op(MOV64_IMM, 1, 0, 0, 1)
    .op(STX_W, FP, 1, newValue + 4, 0) // scheduled here: its FIN/RST ends here too
    .op(STX_DW, FP, 1, newValue + 16, 0) // packets: this SYN
    .op(LDX_W, 1, 6, 0, 0) // skb->len
    .op(ADD64_IMM, 1, 0, 0, -14)
    .op(STX_DW, FP, 1, newValue + 24, 0) // its IP bytes
    .op(CALL, 0, 0, 0, BPF_FUNC.ktimeGetCoarseNs)
    .op(STX_DW, FP, 0, newValue + 8, 0) // last seen
    .loadMap(1, maps.flows)
    .stackPtr(2, at(26))
    .stackPtr(3, newValue)
    .op(MOV64_IMM, 4, 0, 0, 0) // BPF_ANY
    .op(CALL, 0, 0, 0, BPF_FUNC.mapUpdateElem)
    .op(JNE_IMM, 0, 0, "next", 0)
    // tell user space: key | slot
    .op(LDX_W, 1, FP, at(26), 0)
    .op(STX_W, FP, 1, record, 0)
    .op(LDX_W, 1, FP, at(30), 0)
    .op(STX_W, FP, 1, record + 4, 0)
    .op(LDX_W, 1, FP, at(34), 0)
    .op(STX_W, FP, 1, record + 8, 0)
    .op(LDX_W, 1, FP, -56, 0)
    .op(STX_W, FP, 1, record + 12, 0)
    .loadMap(1, maps.newFlows)
    .stackPtr(2, record)
    .op(MOV64_IMM, 3, 0, 0, NEW_FLOW_RECORD_BYTES)
    .op(MOV64_IMM, 4, 0, 0, BPF_RB_NO_WAKEUP)
    .op(CALL, 0, 0, 0, BPF_FUNC.ringbufOutput)
    .op(JNE_IMM, 0, 0, "unsched", 0)
    // forward as an established flow; r7 = 0: the new value counted the SYN already (no second lookup)
    .op(MOV64_IMM, 1, 0, 0, 0)
    .op(STX_W, FP, 1, endFlags, 0)
    .op(MOV64_IMM, 7, 0, 0, 0)
    .op(JA, 0, 0, "forward", 0)
    .label("unsched") // the ring is full: user space would not know the flow, so it schedules the SYN itself
    .loadMap(1, maps.flows)
    .stackPtr(2, at(26))
    .op(CALL, 0, 0, 0, BPF_FUNC.mapDeleteElem)
    .label("next")
    .op(MOV64_IMM, 0, 0, 0, TCX_NEXT)
    .op(EXIT, 0, 0, 0, 0);
  return p.assemble();
}
