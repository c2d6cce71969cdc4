/**
 * The in-kernel IP-in-IP decapsulator for TUN real servers on kernels without the ipip module: the
 * eBPF program of `ipip_decap_program.ts`, loaded with bpf(2) and attached at tcx ingress of the
 * interface(s) facing the directors. Whole IP-in-IP packets from an allowed director lose their outer
 * header there and go up the stack as ordinary packets received on that interface: no copy to user
 * space, no TUN write, no thread wake-up, and no rp_filter exception (the client's route is that
 * interface). Fragmented outer packets are left to the kernel, which reassembles them and hands them
 * to the user-space decapsulator's raw socket (which keeps running beside this one).
 *
 * The allowed directors are the keys of a BPF hash map the program looks up, so
 * {@link TcDecapsulator.setDirectors} changes them while the program stays attached (directors found
 * through membership come and go), and {@link TcDecapsulator.attachInterface} adds an interface when a
 * director appears behind another one. An empty map decapsulates nothing.
 *
 * The attachment is a BPF link held by a descriptor: closing it ({@link TcDecapsulator.close}) or
 * the process ending detaches the program, so nothing is left behind.
 *
 * The bpf(2) calls are those of `ebpf.ts`.
 *
 * @module
 */
import { ipv4ToInt, isIPv4 } from "../core/addr.ts";
import {
  attachTcxIngress,
  BPF_ANY,
  BPF_MAP_TYPE,
  BPF_PROG_TYPE_SCHED_CLS,
  bpfMapDelete,
  bpfMapLookup,
  bpfMapUpdate,
  closeBpfFd,
  createBpfMap,
  loadBpfProgram,
  testRunBpf,
} from "./ebpf.ts";
import { OsError } from "./_libc.ts";
import { interfaceInfo } from "./interface_info.ts";
import {
  DECAP_COUNTER_BYTES,
  DIRECTOR_KEY_BYTES,
  DIRECTOR_VALUE_BYTES,
  ipipDecapProgram,
  MAX_DECAP_DIRECTORS,
  TCX_NEXT,
  TCX_PASS,
} from "./ipip_decap_program.ts";

export { TCX_NEXT, TCX_PASS };

/** Counters of the in-kernel decapsulator. */
export interface TcDecapStats {
  packets: number;
  bytes: number;
}

/** The director map's key of an IPv4 address: its 4 bytes in network order. */
function directorKey(addr: string): Uint8Array<ArrayBuffer> {
  if (!isIPv4(addr)) throw new RangeError(`Cannot allow director "${addr}": not an IPv4 address`);
  const key = new Uint8Array(DIRECTOR_KEY_BYTES);
  new DataView(key.buffer).setUint32(0, ipv4ToInt(addr));
  return key;
}

/** A loaded and attached decapsulator (see module doc). */
export class TcDecapsulator {
  readonly #links = new Map<string, number>();
  readonly #directors = new Set<string>();
  #counterFd: number;
  #directorFd: number;
  #progFd: number;

  private constructor(counterFd: number, directorFd: number, progFd: number) {
    this.#counterFd = counterFd;
    this.#directorFd = directorFd;
    this.#progFd = progFd;
  }

  /**
   * Loads the program, fills the director map and attaches the program at tcx ingress of each interface.
   *
   * @param opts.interfaces interface names (those the directors' packets arrive on); none only loads it
   *   (for {@link run}, or until {@link attachInterface})
   * @param opts.directors allowed outer sources (IPv4 addresses); empty decapsulates nothing until
   *   {@link setDirectors}
   * @throws {OsError} when the kernel refuses (no BPF, no tcx, no privileges); the verifier's log is in the message
   * @throws {RangeError} with more than {@link MAX_DECAP_DIRECTORS} directors
   */
  static attach(opts: { interfaces: readonly string[]; directors: readonly string[] }): TcDecapsulator {
    const fds: number[] = [];
    let d: TcDecapsulator | undefined;
    try {
      const counterFd = createBpfMap({
        type: BPF_MAP_TYPE.array,
        keyBytes: 4,
        valueBytes: DECAP_COUNTER_BYTES,
        maxEntries: 1,
        name: "webcache_decap",
      });
      fds.push(counterFd);
      const directorFd = createBpfMap({
        type: BPF_MAP_TYPE.hash,
        keyBytes: DIRECTOR_KEY_BYTES,
        valueBytes: DIRECTOR_VALUE_BYTES,
        maxEntries: MAX_DECAP_DIRECTORS,
        name: "webcache_decdir",
      });
      fds.push(directorFd);
      const insns = ipipDecapProgram({ directorMapFd: directorFd, counterMapFd: counterFd });
      const progFd = loadBpfProgram({ type: BPF_PROG_TYPE_SCHED_CLS, insns, name: "webcache_decap" });
      fds.push(progFd);
      d = new TcDecapsulator(counterFd, directorFd, progFd);
      d.setDirectors(opts.directors);
      for (const name of opts.interfaces) d.attachInterface(name);
      return d;
    } catch (e) {
      if (d) d.close();
      else for (const fd of fds) closeBpfFd(fd);
      throw e;
    }
  }

  /** Interfaces it is attached to. */
  get interfaces(): readonly string[] {
    return [...this.#links.keys()];
  }

  /** The allowed outer sources, sorted. */
  get directors(): readonly string[] {
    return [...this.#directors].sort();
  }

  /**
   * Replaces the allowed outer sources (the director map's keys) while the program runs: new ones are
   * added before old ones are removed, so a director present in both lists never misses a packet.
   *
   * @param addrs IPv4 addresses; empty decapsulates nothing
   * @throws {RangeError} with more than {@link MAX_DECAP_DIRECTORS} addresses or an address that is not IPv4
   * @throws {OsError} when the kernel refuses a map update
   */
  setDirectors(addrs: readonly string[]): void {
    const next = new Set(addrs);
    if (next.size > MAX_DECAP_DIRECTORS) {
      throw new RangeError(`Cannot allow ${next.size} directors: the decapsulator holds ${MAX_DECAP_DIRECTORS}`);
    }
    const keys = new Map([...next].map((a) => [a, directorKey(a)]));
    const value = new Uint8Array(DIRECTOR_VALUE_BYTES);
    for (const [a, key] of keys) {
      if (this.#directors.has(a)) continue;
      const err = bpfMapUpdate(this.#directorFd, key, value, BPF_ANY);
      if (err) throw new OsError(`Cannot allow director ${a} in the decapsulator's map`, err);
      this.#directors.add(a);
    }
    for (const a of [...this.#directors]) {
      if (next.has(a)) continue;
      bpfMapDelete(this.#directorFd, directorKey(a));
      this.#directors.delete(a);
    }
  }

  /**
   * Attaches the program at tcx ingress of one more interface (nothing when already attached there).
   *
   * @returns true when it was attached now
   * @throws {OsError} when the kernel refuses
   */
  attachInterface(name: string): boolean {
    if (this.#links.has(name)) return false;
    this.#links.set(name, attachTcxIngress(this.#progFd, interfaceInfo(name).index, name));
    return true;
  }

  /** Packets decapsulated so far, and their inner bytes. */
  stats(): TcDecapStats {
    const key = new Uint8Array(4);
    const value = new Uint8Array(DECAP_COUNTER_BYTES);
    if (!bpfMapLookup(this.#counterFd, key, value)) throw new OsError("Cannot read the decapsulator's counters", 2);
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
    for (const fd of [...this.#links.values()].reverse()) closeBpfFd(fd);
    this.#links.clear();
    if (this.#progFd < 0) return;
    for (const fd of [this.#progFd, this.#directorFd, this.#counterFd]) closeBpfFd(fd);
    this.#progFd = this.#directorFd = this.#counterFd = -1;
  }
}
