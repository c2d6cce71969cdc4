/**
 * The in-kernel IP-in-IP decapsulator for TUN real servers on kernels without the ipip module: the
 * eBPF program of `ipip_decap_program.ts`, loaded with bpf(2) and attached at tcx ingress of the
 * interface(s) facing the directors. Whole IP-in-IP packets from an allowed director lose their outer
 * header there and go up the stack as ordinary packets received on that interface: no copy to user
 * space, no TUN write, no thread wake-up, and no rp_filter exception (the client's route is that
 * interface). Fragmented outer packets are left to the kernel, which reassembles them and hands them
 * to the user-space decapsulator's raw socket (which keeps running beside this one).
 *
 * The attachment is a BPF link held by a descriptor: closing it ({@link TcDecapsulator.close}) or
 * the process ending detaches the program, so nothing is left behind.
 *
 * `union bpf_attr` as used here (x86_64):
 *
 * ```text
 * BPF_MAP_CREATE (0):  map_type@0 key_size@4 value_size@8 max_entries@12
 * BPF_MAP_LOOKUP_ELEM (1): map_fd@0 key@8 (pointer) value@16 (pointer)
 * BPF_PROG_LOAD (5):   prog_type@0 insn_cnt@4 insns@8 license@16 log_level@24 log_size@28 log_buf@32
 * BPF_LINK_CREATE (28): prog_fd@0 target_ifindex@4 attach_type@8 flags@12
 * BPF_PROG_TEST_RUN (10): prog_fd@0 retval@4 data_size_in@8 data_size_out@12 data_in@16 data_out@24
 * ```
 *
 * @module
 */
import { ipv4ToInt } from "../core/addr.ts";
import { addressOf, cString, libc, OsError, setU64 } from "./_libc.ts";
import { errno } from "./_libc.ts";
import { interfaceInfo } from "./interface_info.ts";
import { DECAP_COUNTER_BYTES, ipipDecapProgram, TCX_NEXT, TCX_PASS } from "./ipip_decap_program.ts";

export { TCX_NEXT, TCX_PASS };

const SYS_BPF = 321n;
const BPF_MAP_CREATE = 0n;
const BPF_MAP_LOOKUP_ELEM = 1n;
const BPF_PROG_LOAD = 5n;
const BPF_LINK_CREATE = 28n;
const BPF_PROG_TEST_RUN = 10n;
const BPF_MAP_TYPE_ARRAY = 2;
const BPF_PROG_TYPE_SCHED_CLS = 3;
const BPF_TCX_INGRESS = 46;
const ATTR_BYTES = 144;
const LOG_BYTES = 1 << 16;

function bpf(cmd: bigint, attr: Uint8Array<ArrayBuffer>): number {
  return Number(libc().syscall(SYS_BPF, cmd, attr, BigInt(attr.length)));
}

/** Counters of the in-kernel decapsulator. */
export interface TcDecapStats {
  packets: number;
  bytes: number;
}

/** A loaded and attached decapsulator (see module doc). */
export class TcDecapsulator {
  /** Interfaces it is attached to. */
  readonly interfaces: readonly string[];
  readonly #fds: number[];
  readonly #mapFd: number;
  readonly #progFd: number;

  private constructor(interfaces: string[], fds: number[], mapFd: number, progFd: number) {
    this.interfaces = interfaces;
    this.#fds = fds;
    this.#mapFd = mapFd;
    this.#progFd = progFd;
  }

  /**
   * Loads the program and attaches it at tcx ingress of each interface.
   *
   * @param opts.interfaces interface names (those the directors' packets arrive on); none only loads it
   *   (for {@link run})
   * @param opts.directors allowed outer sources (empty: any)
   * @throws {OsError} when the kernel refuses (no BPF, no tcx, no privileges); the verifier's log is in the message
   */
  static attach(opts: { interfaces: readonly string[]; directors: readonly string[] }): TcDecapsulator {
    const fds: number[] = [];
    const close = () => {
      for (const fd of fds) libc().close(fd);
    };
    try {
      const map = new Uint8Array(ATTR_BYTES);
      const mv = new DataView(map.buffer);
      mv.setUint32(0, BPF_MAP_TYPE_ARRAY, true);
      mv.setUint32(4, 4, true);
      mv.setUint32(8, DECAP_COUNTER_BYTES, true);
      mv.setUint32(12, 1, true);
      const mapFd = bpf(BPF_MAP_CREATE, map);
      if (mapFd < 0) throw new OsError("Cannot create the decapsulator's BPF map", errno());
      fds.push(mapFd);
      const insns = ipipDecapProgram({ directors: opts.directors.map(ipv4ToInt), counterMapFd: mapFd });
      const license = cString("GPL");
      const log = new Uint8Array(LOG_BYTES);
      const load = (withLog: boolean) => {
        const a = new Uint8Array(ATTR_BYTES);
        const v = new DataView(a.buffer);
        v.setUint32(0, BPF_PROG_TYPE_SCHED_CLS, true);
        v.setUint32(4, insns.length / 8, true);
        setU64(v, 8, addressOf(insns));
        setU64(v, 16, addressOf(license));
        if (withLog) {
          v.setUint32(24, 1, true);
          v.setUint32(28, LOG_BYTES, true);
          setU64(v, 32, addressOf(log));
        }
        a.set(new TextEncoder().encode("webcache_decap"), 48);
        return bpf(BPF_PROG_LOAD, a);
      };
      let progFd = load(false);
      if (progFd < 0) {
        const err = errno();
        progFd = load(true);
        if (progFd < 0) {
          const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))).trim().split("\n");
          throw new OsError(`Cannot load the decapsulator's BPF program (${text.slice(-3).join(" / ")})`, err);
        }
      }
      fds.push(progFd);
      for (const name of opts.interfaces) {
        const a = new Uint8Array(ATTR_BYTES);
        const v = new DataView(a.buffer);
        v.setUint32(0, progFd, true);
        v.setUint32(4, interfaceInfo(name).index, true);
        v.setUint32(8, BPF_TCX_INGRESS, true);
        const link = bpf(BPF_LINK_CREATE, a);
        if (link < 0) throw new OsError(`Cannot attach the decapsulator at tcx ingress of "${name}"`, errno());
        fds.push(link);
      }
      return new TcDecapsulator([...opts.interfaces], fds, mapFd, progFd);
    } catch (e) {
      close();
      throw e;
    }
  }

  /** Packets decapsulated so far, and their inner bytes. */
  stats(): TcDecapStats {
    const key = new Uint8Array(4);
    const value = new Uint8Array(DECAP_COUNTER_BYTES);
    const a = new Uint8Array(ATTR_BYTES);
    const v = new DataView(a.buffer);
    v.setUint32(0, this.#mapFd, true);
    setU64(v, 8, addressOf(key));
    setU64(v, 16, addressOf(value));
    if (bpf(BPF_MAP_LOOKUP_ELEM, a) < 0) throw new OsError("Cannot read the decapsulator's counters", errno());
    const c = new DataView(value.buffer);
    return { packets: Number(c.getBigUint64(0, true)), bytes: Number(c.getBigUint64(8, true)) };
  }

  /**
   * Runs the loaded program once on a frame in the kernel (BPF_PROG_TEST_RUN), without any interface.
   *
   * @param frame an Ethernet frame
   * @returns the verdict ({@link TCX_PASS}, {@link TCX_NEXT}) and the frame as the program left it
   * @throws {OsError} when the kernel refuses the test run
   */
  run(frame: Uint8Array): { verdict: number; frame: Uint8Array } {
    const input = new Uint8Array(frame);
    const output = new Uint8Array(frame.length + 256);
    const a = new Uint8Array(ATTR_BYTES);
    const v = new DataView(a.buffer);
    v.setUint32(0, this.#progFd, true);
    v.setUint32(8, input.length, true);
    v.setUint32(12, output.length, true);
    setU64(v, 16, addressOf(input));
    setU64(v, 24, addressOf(output));
    v.setUint32(32, 1, true);
    if (bpf(BPF_PROG_TEST_RUN, a) < 0) throw new OsError("Cannot test-run the decapsulator's program", errno());
    return { verdict: v.getInt32(4, true), frame: output.slice(0, v.getUint32(12, true)) };
  }

  /** Detaches the program and frees it (closing the link, program and map descriptors). */
  close(): void {
    for (const fd of this.#fds.splice(0).reverse()) libc().close(fd);
  }
}
