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
 * The bpf(2) calls are those of `ebpf.ts`.
 *
 * @module
 */
import { ipv4ToInt } from "../core/addr.ts";
import {
  attachTcxIngress,
  BPF_MAP_TYPE,
  BPF_PROG_TYPE_SCHED_CLS,
  bpfMapLookup,
  closeBpfFd,
  createBpfMap,
  loadBpfProgram,
  testRunBpf,
} from "./ebpf.ts";
import { OsError } from "./_libc.ts";
import { interfaceInfo } from "./interface_info.ts";
import { DECAP_COUNTER_BYTES, ipipDecapProgram, TCX_NEXT, TCX_PASS } from "./ipip_decap_program.ts";

export { TCX_NEXT, TCX_PASS };

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
    try {
      const mapFd = createBpfMap({
        type: BPF_MAP_TYPE.array,
        keyBytes: 4,
        valueBytes: DECAP_COUNTER_BYTES,
        maxEntries: 1,
        name: "webcache_decap",
      });
      fds.push(mapFd);
      const insns = ipipDecapProgram({ directors: opts.directors.map(ipv4ToInt), counterMapFd: mapFd });
      const progFd = loadBpfProgram({ type: BPF_PROG_TYPE_SCHED_CLS, insns, name: "webcache_decap" });
      fds.push(progFd);
      for (const name of opts.interfaces) fds.push(attachTcxIngress(progFd, interfaceInfo(name).index, name));
      return new TcDecapsulator([...opts.interfaces], fds, mapFd, progFd);
    } catch (e) {
      for (const fd of fds) closeBpfFd(fd);
      throw e;
    }
  }

  /** Packets decapsulated so far, and their inner bytes. */
  stats(): TcDecapStats {
    const key = new Uint8Array(4);
    const value = new Uint8Array(DECAP_COUNTER_BYTES);
    if (!bpfMapLookup(this.#mapFd, key, value)) throw new OsError("Cannot read the decapsulator's counters", 2);
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
    return testRunBpf(this.#progFd, frame);
  }

  /** Detaches the program and frees it (closing the link, program and map descriptors). */
  close(): void {
    for (const fd of this.#fds.splice(0).reverse()) closeBpfFd(fd);
  }
}
