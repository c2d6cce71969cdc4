/**
 * The shared-memory block between the main thread and the forwarding Worker. A Worker spinning in
 * a synchronous poll loop never runs `onmessage`, so configuration and counters cross through a
 * SharedArrayBuffer instead:
 *
 * ```text
 * Int32 words (offset 0, 16 words):
 *   [0] config sequence   odd while the main thread writes, even when stable (a seqlock)
 *   [1] config length     bytes of JSON in the config area
 *   [2] stop              1 asks the Worker to leave its loop (checked every ≤ 100 ms)
 *   [3] state             0 starting, 1 running, 2 stopped, 3 failed
 *   [4] config applied    the sequence the Worker last applied
 * Config area (offset 64, CONFIG_BYTES): UTF-8 JSON of a DataplaneConfig
 * Float64 counters (after the config area):
 *   GLOBAL_COUNTERS words: see GLOBAL
 *   MAX_SERVICES × SERVICE_WORDS: conns, packets, bytes, drops
 *   MAX_REALS × REAL_WORDS: conns, packets, bytes, active, inactive, mac known (0/1)
 * ```
 *
 * Counters have one writer (the Worker); readers may see a value one update old, which is fine for
 * statistics. Doubles count exactly up to 2^53.
 *
 * @module
 */
import type { DataplaneConfig } from "./config.ts";

/** Most virtual services. */
export const MAX_SERVICES = 64;
/** Most real-server slots. */
export const MAX_REALS = 1024;
/** Bytes of the config area. */
export const CONFIG_BYTES = 1 << 20;
const HEADER_BYTES = 64;
/** Words per service. */
export const SERVICE_WORDS = 4;
/** Words per real server. */
export const REAL_WORDS = 6;

/** Global counter indexes. */
export const GLOBAL = {
  rxPackets: 0,
  rxBytes: 1,
  txPackets: 2,
  txBytes: 3,
  dropNoService: 4,
  dropNoServer: 5,
  dropNoMac: 6,
  dropMalformed: 7,
  dropTruncated: 8,
  dropSendFailed: 9,
  fragNeededSent: 10,
  dropTooBig: 11,
  dropTunGso: 12,
  arpRepliesSent: 13,
  arpRequestsSent: 14,
  garpSent: 15,
  connections: 16,
  tableFull: 17,
  loopWakeups: 18,
  checksumsCompleted: 19,
  tunFragmented: 20,
  tunFragments: 21,
  /** 1 while the in-kernel DR fast path is attached, 0 otherwise. */
  fastPathActive: 22,
  /** Packets and IP bytes the fast path forwarded (folded in about once a second). */
  fastPathPackets: 23,
  fastPathBytes: 24,
  /** Flows installed in the fast path now. */
  fastPathFlows: 25,
  /** Flows installed so far, and installs the kernel refused (its flow map full). */
  fastPathInstalls: 26,
  fastPathInstallFailed: 27,
  /** New connections the fast path scheduled in the kernel (mh services) and entered in the table, and those it
   * could not enter (table full or server gone: the kernel's flow was removed). */
  kernelScheduled: 28,
  kernelScheduleRejected: 29,
  /** Ends (FIN, RST) of kernel-scheduled connections that passed in the kernel and were applied to the table. */
  kernelEnded: 30,
} as const;
/** Global counter words reserved. */
export const GLOBAL_COUNTERS = 32;

/** Index of each per-service counter. */
export const SVC = { conns: 0, packets: 1, bytes: 2, drops: 3 } as const;
/** Index of each per-real counter. */
export const REAL = { conns: 0, packets: 1, bytes: 2, active: 3, inactive: 4, macKnown: 5 } as const;

/** Worker states. */
export const STATE_STARTING = 0;
/** The loop runs. */
export const STATE_RUNNING = 1;
/** The loop ended after a stop request. */
export const STATE_STOPPED = 2;
/** The Worker failed. */
export const STATE_FAILED = 3;

/** Both threads' view of the shared block. */
export class ControlBlock {
  /** The shared memory (post it to the Worker). */
  readonly sab: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #config: Uint8Array;
  /** Counter words: global, then services, then reals. */
  readonly counters: Float64Array;

  /** @param sab an existing block (in the Worker), or omitted to allocate one (main thread) */
  constructor(sab?: SharedArrayBuffer) {
    const counterWords = GLOBAL_COUNTERS + MAX_SERVICES * SERVICE_WORDS + MAX_REALS * REAL_WORDS;
    this.sab = sab ?? new SharedArrayBuffer(HEADER_BYTES + CONFIG_BYTES + counterWords * 8);
    this.#words = new Int32Array(this.sab, 0, 16);
    this.#config = new Uint8Array(this.sab, HEADER_BYTES, CONFIG_BYTES);
    this.counters = new Float64Array(this.sab, HEADER_BYTES + CONFIG_BYTES, counterWords);
  }

  /**
   * Publishes a configuration (main thread).
   *
   * @param cfg the configuration
   * @returns the new sequence number
   * @throws {RangeError} when the JSON exceeds the config area
   */
  writeConfig(cfg: DataplaneConfig): number {
    const bytes = new TextEncoder().encode(JSON.stringify(cfg));
    if (bytes.length > CONFIG_BYTES) {
      throw new RangeError(`Cannot publish data-plane config: ${bytes.length} bytes exceed ${CONFIG_BYTES}`);
    }
    Atomics.add(this.#words, 0, 1); // odd: writing
    this.#config.set(bytes);
    Atomics.store(this.#words, 1, bytes.length);
    return Atomics.add(this.#words, 0, 1) + 1; // even: stable
  }

  /** The current config sequence (cheap; the Worker checks it every loop). */
  get configSequence(): number {
    return Atomics.load(this.#words, 0);
  }

  /**
   * Reads the configuration if it is stable (Worker).
   *
   * @returns the config and its sequence, or undefined while a write is in progress
   */
  readConfig(): { config: DataplaneConfig; sequence: number } | undefined {
    const seq = Atomics.load(this.#words, 0);
    if (seq % 2 === 1 || seq === 0) return undefined;
    const len = Atomics.load(this.#words, 1);
    const copy = this.#config.slice(0, len);
    if (Atomics.load(this.#words, 0) !== seq) return undefined;
    return { config: JSON.parse(new TextDecoder().decode(copy)), sequence: seq };
  }

  /** The sequence the Worker last applied. */
  get appliedSequence(): number {
    return Atomics.load(this.#words, 4);
  }

  set appliedSequence(seq: number) {
    Atomics.store(this.#words, 4, seq);
    Atomics.notify(this.#words, 4);
  }

  /** Whether a stop was requested. */
  get stopRequested(): boolean {
    return Atomics.load(this.#words, 2) === 1;
  }

  /** Asks the Worker to stop. */
  requestStop(): void {
    Atomics.store(this.#words, 2, 1);
  }

  /** The Worker's state. */
  get state(): number {
    return Atomics.load(this.#words, 3);
  }

  set state(s: number) {
    Atomics.store(this.#words, 3, s);
  }

  /** Index of service `slot`'s counter `which` in {@link counters}. */
  serviceIndex(slot: number, which: number): number {
    return GLOBAL_COUNTERS + slot * SERVICE_WORDS + which;
  }

  /** Index of real `slot`'s counter `which` in {@link counters}. */
  realIndex(slot: number, which: number): number {
    return GLOBAL_COUNTERS + MAX_SERVICES * SERVICE_WORDS + slot * REAL_WORDS + which;
  }
}
