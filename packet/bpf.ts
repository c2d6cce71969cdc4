/**
 * Classic BPF socket filters (`SO_ATTACH_FILTER`) generated in TypeScript, so only virtual-service
 * traffic crosses into user space and no `tcpdump -dd` is needed at run time.
 *
 * One instruction, `struct sock_filter` (8 bytes, host byte order):
 *
 * ```text
 *  0               1               2               3
 * +-------------------------------+---------------+---------------+
 * |            code (u16)         |   jt (u8)     |   jf (u8)     |
 * +-------------------------------+---------------+---------------+
 * |                            k (u32)                            |
 * +---------------------------------------------------------------+
 * ```
 *
 * The program for an AF_PACKET SOCK_RAW socket sees the frame from the Ethernet header on:
 *
 * ```text
 *   ldh [12]            ; EtherType
 *   jne #0x800, drop
 *   ldb [23]            ; IP protocol
 *   jne #6, drop        ; TCP only
 *   ldh [20]            ; flags + fragment offset
 *   jset #0x1fff, drop  ; non-first fragments carry no ports
 *   ldxb 4*([14]&0xf)   ; X = IP header length
 *   ldh [x+16]          ; TCP destination port
 *   st M[0]
 *   ; per rule {vip?, port}:
 *   ld M[0]; jne #port, next
 *   ld [30]; jeq #vip, accept, next     (transparent rules skip the address test)
 *   ...
 * drop:   ret #0
 * accept: ret #262144
 * ```
 *
 * @module
 */

/** One classic BPF instruction. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** One match rule: TCP to `port`, and to `vip` unless it is a transparent (any address) rule. */
export interface FilterRule {
  /** Destination address as an unsigned 32-bit number; omit for "any destination". */
  vip?: number;
  port: number;
}

/** Bytes of one `struct sock_filter`. */
export const SOCK_FILTER_BYTES = 8;
/** Most rules one program takes (jump offsets are 8-bit). */
export const MAX_FILTER_RULES = 40;
/** Snap length returned by the accept instruction (whole GSO frames). */
export const ACCEPT_SNAPLEN = 262144;

// Opcodes (linux/bpf_common.h).
const LD = 0x00, LDX = 0x01, ST = 0x02, RET = 0x06, JMP = 0x05;
const W = 0x00, H = 0x08, B = 0x10;
const ABS = 0x20, IND = 0x40, MEM = 0x60, MSH = 0xa0;
const JEQ = 0x10, JSET = 0x40, K = 0x00;

const ins = (code: number, jt: number, jf: number, k: number): SockFilter => ({ code, jt, jf, k: k >>> 0 });

/**
 * Generates the filter accepting TCP packets that match any rule.
 *
 * @param rules the (vip, port) pairs; at least one
 * @returns the program
 * @throws {RangeError} when there are no rules, too many, or a port is not 1..65535
 * @example
 * ```ts
 * vipFilterProgram([{ vip: 0x0a000064, port: 80 }]).length; // 15
 * ```
 */
export function vipFilterProgram(rules: readonly FilterRule[]): SockFilter[] {
  if (rules.length === 0) throw new RangeError("Cannot build BPF filter: no rules");
  if (rules.length > MAX_FILTER_RULES) {
    throw new RangeError(`Cannot build BPF filter: ${rules.length} rules exceed the maximum ${MAX_FILTER_RULES}`);
  }
  for (const r of rules) {
    if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
      throw new RangeError(`Cannot build BPF filter: port ${r.port} is not in 1..65535`);
    }
  }
  // Build with symbolic targets, then resolve: "drop" and "accept" are the last two instructions.
  type J = number | "drop" | "accept" | "next";
  const prog: { code: number; jt: J; jf: J; k: number }[] = [
    { code: LD | H | ABS, jt: 0, jf: 0, k: 12 },
    { code: JMP | JEQ | K, jt: 0, jf: "drop", k: 0x0800 },
    { code: LD | B | ABS, jt: 0, jf: 0, k: 23 },
    { code: JMP | JEQ | K, jt: 0, jf: "drop", k: 6 },
    { code: LD | H | ABS, jt: 0, jf: 0, k: 20 },
    { code: JMP | JSET | K, jt: "drop", jf: 0, k: 0x1fff },
    { code: LDX | B | MSH, jt: 0, jf: 0, k: 14 },
    { code: LD | H | IND, jt: 0, jf: 0, k: 16 },
    { code: ST, jt: 0, jf: 0, k: 0 },
  ];
  const ruleStarts: number[] = [];
  const blocks: { code: number; jt: J; jf: J; k: number }[][] = rules.map((r) => {
    const b: { code: number; jt: J; jf: J; k: number }[] = [
      { code: LD | MEM, jt: 0, jf: 0, k: 0 },
    ];
    if (r.vip === undefined) {
      b.push({ code: JMP | JEQ | K, jt: "accept", jf: "next", k: r.port });
    } else {
      b.push({ code: JMP | JEQ | K, jt: 0, jf: "next", k: r.port });
      b.push({ code: LD | W | ABS, jt: 0, jf: 0, k: 30 });
      b.push({ code: JMP | JEQ | K, jt: "accept", jf: "next", k: r.vip });
    }
    return b;
  });
  for (const b of blocks) {
    ruleStarts.push(prog.length);
    prog.push(...b);
  }
  const dropAt = prog.length;
  const acceptAt = dropAt + 1;
  prog.push({ code: RET | K, jt: 0, jf: 0, k: 0 });
  prog.push({ code: RET | K, jt: 0, jf: 0, k: ACCEPT_SNAPLEN });
  const out: SockFilter[] = [];
  prog.forEach((p, i) => {
    const ruleIndex = ruleStarts.findLastIndex((s) => s <= i);
    const nextStart = ruleIndex >= 0 && ruleIndex + 1 < ruleStarts.length ? ruleStarts[ruleIndex + 1] : dropAt;
    const resolve = (j: J): number => {
      const target = j === "drop" ? dropAt : j === "accept" ? acceptAt : j === "next" ? nextStart : i + 1 + j;
      const off = target - (i + 1);
      if (off < 0 || off > 255) throw new RangeError(`Cannot build BPF filter: jump of ${off} at ${i} is out of range`);
      return off;
    };
    out.push(ins(p.code, resolve(p.jt), resolve(p.jf), p.k));
  });
  return out;
}

/**
 * Serialises a program into the bytes of a `struct sock_filter[]` array (host byte order).
 *
 * @param prog the instructions
 */
export function encodeSockFilters(prog: readonly SockFilter[]): Uint8Array {
  const out = new Uint8Array(prog.length * SOCK_FILTER_BYTES);
  const v = new DataView(out.buffer);
  prog.forEach((p, i) => {
    v.setUint16(i * 8, p.code, true);
    v.setUint8(i * 8 + 2, p.jt);
    v.setUint8(i * 8 + 3, p.jf);
    v.setUint32(i * 8 + 4, p.k, true);
  });
  return out;
}

/**
 * Runs a classic BPF program over a frame (the subset of opcodes {@link vipFilterProgram} emits),
 * so the generated filters can be tested without a kernel.
 *
 * @param prog the program
 * @param frame the packet as the socket sees it
 * @returns the accept length (0 = drop)
 * @throws {RangeError} on an unsupported opcode or a jump out of the program
 */
export function runBpf(prog: readonly SockFilter[], frame: Uint8Array): number {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const mem = new Uint32Array(16);
  let a = 0, x = 0;
  const ld = (off: number, size: number): number | undefined => {
    if (off < 0 || off + size > frame.length) return undefined;
    return size === 4 ? v.getUint32(off) : size === 2 ? v.getUint16(off) : v.getUint8(off);
  };
  for (let pc = 0; pc < prog.length;) {
    const { code, jt, jf, k } = prog[pc];
    switch (code) {
      case LD | W | ABS:
      case LD | H | ABS:
      case LD | B | ABS:
      case LD | H | IND: {
        const size = (code & 0x18) === W ? 4 : (code & 0x18) === H ? 2 : 1;
        const val = ld((code & 0xe0) === IND ? x + k : k, size);
        if (val === undefined) return 0; // out-of-bounds load aborts with 0, as in the kernel
        a = val;
        pc++;
        break;
      }
      case LDX | B | MSH: {
        const val = ld(k, 1);
        if (val === undefined) return 0;
        x = (val & 0xf) * 4;
        pc++;
        break;
      }
      case LD | MEM:
        a = mem[k];
        pc++;
        break;
      case ST:
        mem[k] = a;
        pc++;
        break;
      case JMP | JEQ | K:
        pc += 1 + (a === k ? jt : jf);
        break;
      case JMP | JSET | K:
        pc += 1 + ((a & k) !== 0 ? jt : jf);
        break;
      case RET | K:
        return k;
      default:
        throw new RangeError(`Cannot run BPF: unsupported opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new RangeError("Cannot run BPF: fell off the end of the program");
}
