/**
 * bpf(2) through FFI: map creation and element access, program loading (with the verifier's log
 * on failure), tcx attachment through a BPF link, and BPF_PROG_TEST_RUN. Shared by the TUN
 * decapsulator (`tc_decapsulator.ts`) and the DR fast path (`dr_fast_path.ts`). Every object is a
 * descriptor owned by the calling process: closing it, or the process ending (also kill -9),
 * frees it; nothing is pinned.
 *
 * `union bpf_attr` as used here (x86_64, 144 bytes passed):
 *
 * ```text
 * BPF_MAP_CREATE (0):   map_type@0 key_size@4 value_size@8 max_entries@12 map_flags@16 map_name@28 (16 B)
 * BPF_MAP_LOOKUP_ELEM (1), UPDATE (2), DELETE (3): map_fd@0 key@8 (pointer) value@16 (pointer) flags@24
 * BPF_PROG_LOAD (5):    prog_type@0 insn_cnt@4 insns@8 license@16 log_level@24 log_size@28 log_buf@32
 *                       prog_name@48 (16 B)
 * BPF_PROG_TEST_RUN (10): prog_fd@0 retval@4 data_size_in@8 data_size_out@12 data_in@16 data_out@24 repeat@32
 *                       duration@36 (mean ns per run)
 * BPF_PROG_QUERY (16): target_ifindex@0 attach_type@4 query_flags@8 attach_flags@12 prog_ids@16 prog_cnt@24
 * BPF_LINK_CREATE (28): prog_fd@0 target_ifindex@4 attach_type@8 flags@12
 * ```
 *
 * @module
 */
import { addressOf, cString, E2BIG, EEXIST, ENOENT, errno, errnoOrRetry, libc, OsError, setU64 } from "./_libc.ts";

const SYS_BPF = 321n;
const SYS_CLOCK_GETTIME = 228n;
const CLOCK_MONOTONIC = 1n;
const CMD = {
  mapCreate: 0n,
  lookup: 1n,
  update: 2n,
  delete: 3n,
  progLoad: 5n,
  testRun: 10n,
  progQuery: 16n,
  linkCreate: 28n,
  updateBatch: 26n,
  deleteBatch: 27n,
};
const ATTR_BYTES = 144;
const LOG_BYTES = 1 << 16;
/** How a map update fails in normal operation: the key exists (BPF_NOEXIST), the map is full. */
const UPDATE_REFUSED = [EEXIST, E2BIG] as const;

/** Map types (uapi `enum bpf_map_type`). */
export const BPF_MAP_TYPE = { hash: 1, array: 2, percpuArray: 6, ringbuf: 27 } as const;
/** Map flag: allocate hash elements on insert instead of all at creation. */
export const BPF_F_NO_PREALLOC = 1;
/** Program type of tc/tcx classifiers. */
export const BPF_PROG_TYPE_SCHED_CLS = 3;
/** Attach type: tcx ingress. */
export const BPF_TCX_INGRESS = 46;
/** Update flag: create or replace. */
export const BPF_ANY = 0;
/** Update flag: create only (EEXIST when present). */
export const BPF_NOEXIST = 1;

/**
 * CPUs a per-CPU map holds a value for (the kernel's possible CPUs, `/sys/devices/system/cpu/possible`, e.g. `0-1`):
 * a lookup in such a map fills that many values, each rounded up to 8 bytes.
 */
export function possibleCpus(): number {
  const text = Deno.readTextFileSync("/sys/devices/system/cpu/possible").trim();
  let n = 0;
  for (const part of text.split(",")) {
    const [a, b] = part.split("-").map(Number);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

function bpf(cmd: bigint, attr: Uint8Array<ArrayBuffer>): number {
  return Number(libc().syscall(SYS_BPF, cmd, attr, BigInt(attr.length)));
}

function attr(): { a: Uint8Array<ArrayBuffer>; v: DataView } {
  const a = new Uint8Array(ATTR_BYTES);
  return { a, v: new DataView(a.buffer) };
}

/** Closes a BPF object descriptor (map, program or link). */
export function closeBpfFd(fd: number): void {
  libc().close(fd);
}

/**
 * Creates a map.
 *
 * @param opts.name up to 15 characters, shown by `bpftool map`
 * @returns its descriptor
 * @throws {OsError} when the kernel refuses
 */
export function createBpfMap(
  opts: { type: number; keyBytes: number; valueBytes: number; maxEntries: number; flags?: number; name: string },
): number {
  const { a, v } = attr();
  v.setUint32(0, opts.type, true);
  v.setUint32(4, opts.keyBytes, true);
  v.setUint32(8, opts.valueBytes, true);
  v.setUint32(12, opts.maxEntries, true);
  v.setUint32(16, opts.flags ?? 0, true);
  a.set(new TextEncoder().encode(opts.name.slice(0, 15)), 28);
  const fd = bpf(CMD.mapCreate, a);
  if (fd < 0) throw new OsError(`Cannot create BPF map "${opts.name}"`, errno());
  return fd;
}

function elemAttr(mapFd: number, key: Uint8Array, value: Uint8Array | undefined, flags: number) {
  const { a, v } = attr();
  v.setUint32(0, mapFd, true);
  setU64(v, 8, addressOf(key));
  if (value) setU64(v, 16, addressOf(value));
  setU64(v, 24, flags);
  return a;
}

/**
 * Reads one element into `value`.
 *
 * @returns false when the key is absent
 * @throws {OsError} on any other failure
 */
export function bpfMapLookup(mapFd: number, key: Uint8Array, value: Uint8Array): boolean {
  const attr = elemAttr(mapFd, key, value, 0);
  if (bpf(CMD.lookup, attr) >= 0) return true;
  const e = errnoOrRetry(() => bpf(CMD.lookup, attr), [ENOENT]);
  if (e < 0) return true; // found after all
  if (e === ENOENT) return false;
  throw new OsError("Cannot read a BPF map element", e);
}

/**
 * Writes one element.
 *
 * @returns 0, or the errno when the kernel refuses (E2BIG: the map is full)
 */
export function bpfMapUpdate(mapFd: number, key: Uint8Array, value: Uint8Array, flags = BPF_ANY): number {
  const attr = elemAttr(mapFd, key, value, flags);
  if (bpf(CMD.update, attr) >= 0) return 0;
  const e = errnoOrRetry(() => bpf(CMD.update, attr), UPDATE_REFUSED);
  return e < 0 ? 0 : e;
}

/**
 * Deletes one element.
 *
 * @returns false when the key was absent
 */
export function bpfMapDelete(mapFd: number, key: Uint8Array): boolean {
  return bpf(CMD.delete, elemAttr(mapFd, key, undefined, 0)) >= 0;
}

/**
 * Loads a program; on failure loads it again with the verifier's log for the error message.
 *
 * @param opts.name up to 15 characters, shown by `bpftool prog`
 * @returns its descriptor
 * @throws {OsError} when the kernel refuses, with the last lines of the verifier's log
 */
export function loadBpfProgram(opts: { type: number; insns: Uint8Array<ArrayBuffer>; name: string }): number {
  const license = cString("GPL");
  const log = new Uint8Array(LOG_BYTES);
  const load = (withLog: boolean) => {
    const { a, v } = attr();
    v.setUint32(0, opts.type, true);
    v.setUint32(4, opts.insns.length / 8, true);
    setU64(v, 8, addressOf(opts.insns));
    setU64(v, 16, addressOf(license));
    if (withLog) {
      v.setUint32(24, 1, true);
      v.setUint32(28, LOG_BYTES, true);
      setU64(v, 32, addressOf(log));
    }
    a.set(new TextEncoder().encode(opts.name.slice(0, 15)), 48);
    return bpf(CMD.progLoad, a);
  };
  let fd = load(false);
  if (fd < 0) {
    const err = errno();
    fd = load(true);
    if (fd < 0) {
      const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))).trim().split("\n");
      throw new OsError(`Cannot load the BPF program "${opts.name}" (${text.slice(-3).join(" / ")})`, err);
    }
  }
  return fd;
}

/**
 * Attaches a program at tcx ingress of an interface through a BPF link.
 *
 * @returns the link's descriptor (closing it detaches)
 * @throws {OsError} when the kernel refuses (no tcx, no privileges)
 */
export function attachTcxIngress(progFd: number, ifindex: number, ifname: string): number {
  const { a, v } = attr();
  v.setUint32(0, progFd, true);
  v.setUint32(4, ifindex, true);
  v.setUint32(8, BPF_TCX_INGRESS, true);
  const fd = bpf(CMD.linkCreate, a);
  if (fd < 0) throw new OsError(`Cannot attach a BPF program at tcx ingress of "${ifname}"`, errno());
  return fd;
}

/**
 * Counts the programs attached at tcx ingress of an interface (in the caller's network namespace),
 * whoever attached them.
 *
 * @throws {OsError} when the kernel refuses the query
 */
export function tcxIngressProgramCount(ifindex: number): number {
  const { a, v } = attr();
  v.setUint32(0, ifindex, true);
  v.setUint32(4, BPF_TCX_INGRESS, true);
  if (bpf(CMD.progQuery, a) < 0) throw new OsError("Cannot query the tcx ingress programs", errno());
  return v.getUint32(24, true);
}

/**
 * Writes `count` elements in one call (BPF_MAP_UPDATE_BATCH): `keys` and `values` hold them back to back.
 *
 * @returns 0, or the errno when the kernel refused (some elements may be written then)
 */
export function bpfMapUpdateBatch(mapFd: number, keys: Uint8Array, values: Uint8Array, count: number): number {
  const { a, v } = attr();
  setU64(v, 16, addressOf(keys));
  setU64(v, 24, addressOf(values));
  v.setUint32(32, count, true);
  v.setUint32(36, mapFd, true);
  return bpf(CMD.updateBatch, a) < 0 ? errno() : 0;
}

/**
 * Deletes `count` elements in one call (BPF_MAP_DELETE_BATCH): `keys` holds them back to back. The kernel stops
 * at the first key it cannot delete (ENOENT for an absent one).
 *
 * @returns the elements deleted before it stopped, and 0 or the errno that stopped it
 */
export function bpfMapDeleteBatch(mapFd: number, keys: Uint8Array, count: number): { deleted: number; err: number } {
  const { a, v } = attr();
  setU64(v, 16, addressOf(keys));
  v.setUint32(32, count, true);
  v.setUint32(36, mapFd, true);
  const err = bpf(CMD.deleteBatch, a) < 0 ? errno() : 0;
  return { deleted: v.getUint32(32, true), err };
}

/**
 * Runs a loaded classifier once on a frame in the kernel (BPF_PROG_TEST_RUN), without any interface.
 *
 * @param frame an Ethernet frame
 * @returns the verdict and the frame as the program left it
 * @throws {OsError} when the kernel refuses the test run
 */
export function testRunBpf(progFd: number, frame: Uint8Array): { verdict: number; frame: Uint8Array } {
  const input = new Uint8Array(frame);
  const output = new Uint8Array(frame.length + 256);
  const { a, v } = attr();
  v.setUint32(0, progFd, true);
  v.setUint32(8, input.length, true);
  v.setUint32(12, output.length, true);
  setU64(v, 16, addressOf(input));
  setU64(v, 24, addressOf(output));
  v.setUint32(32, 1, true);
  if (bpf(CMD.testRun, a) < 0) throw new OsError("Cannot test-run a BPF program", errno());
  return { verdict: v.getInt32(4, true), frame: output.slice(0, v.getUint32(12, true)) };
}

/**
 * Times a loaded classifier in the kernel (BPF_PROG_TEST_RUN with `repeat`): the kernel runs it `repeat` times on
 * one skb built from `frame` and reports the mean ns per run (`duration`). The skb is not rebuilt between runs:
 * the n-th run sees the frame (and the maps) as the run before left them.
 *
 * @param repeat runs, at least 1
 * @returns the last run's verdict and the mean ns per run
 * @throws {OsError} when the kernel refuses the test run
 */
export function timeBpfRun(progFd: number, frame: Uint8Array, repeat: number): { verdict: number; ns: number } {
  const input = new Uint8Array(frame);
  const { a, v } = attr();
  v.setUint32(0, progFd, true);
  v.setUint32(8, input.length, true);
  setU64(v, 16, addressOf(input));
  v.setUint32(32, repeat, true);
  if (bpf(CMD.testRun, a) < 0) throw new OsError("Cannot test-run a BPF program", errno());
  return { verdict: v.getInt32(4, true), ns: v.getUint32(36, true) };
}

const ts = new Uint8Array(16);
const tsView = new DataView(ts.buffer);

/** CLOCK_MONOTONIC in nanoseconds, the clock of `bpf_ktime_get_ns()` (`bpf_ktime_get_coarse_ns()`: as of the last tick). */
export function monotonicNs(): number {
  libc().syscall(SYS_CLOCK_GETTIME, CLOCK_MONOTONIC, ts, 0n);
  return Number(tsView.getBigInt64(0, true)) * 1e9 + Number(tsView.getBigInt64(8, true));
}
