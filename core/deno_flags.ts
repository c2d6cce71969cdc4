/**
 * How webcache is run by Deno: the one list of runtime flags, used wherever webcache starts
 * itself (the demo's nodes, the tests' processes) and written out in README and deno.json.
 *
 * - `-A`: network, files, subprocesses (`ip`, `nft`), FFI into libc for the data plane.
 * - `--unstable-kv`: the disk store's index in Deno KV.
 * - `--unstable-net`: UDP for ICP and gossip, multicast, `SO_REUSEPORT`.
 * - `--v8-flags=--no-memory-reducer`: V8's memory reducer shrinks the heap after a few idle
 *   seconds, and the first seconds of traffic after a pause then pay for growing it again with
 *   extra mark-compact collections (measured: 28 instead of 10 full collections over four 5 s
 *   miss loads with 25 s pauses, 8–9 k instead of 10–12 k misses/s; `bench/miss_path.md`). A cache
 *   holds its memory on purpose (`cache.memory.maxBytes` bounds it), so it keeps the heap.
 * - `--max-semi-space-size=16` (in the same `--v8-flags`): a young generation of 16 MB per
 *   semi-space instead of V8's default 32 MB. Every miss stores an object, so each scavenge copies
 *   what was stored since the last one (~3.3 KB per miss): the pause grows with the semi-space, and
 *   with 64 connections in flight a pause delays every one of them. Measured with `--trace-gc-nvp`
 *   under the miss load (2 workers): scavenge pauses p50 8 → 4.5-4.8 ms, p90 23-30 → 10-16 ms, CPU
 *   per miss not higher. 8 MB halves the pauses again but costs hits 10-20 % more CPU (four times
 *   as many scavenges, each with the same fixed cost); 16 MB left hits as they were
 *   (`bench/miss_path.md`, issue #20).
 *
 * @module
 */

/** Deno's flags after `deno run` for webcache (see the module doc for what each is for). */
export const DENO_RUN_FLAGS: readonly string[] = [
  "-A",
  "--unstable-kv",
  "--unstable-net",
  "--v8-flags=--no-memory-reducer,--max-semi-space-size=16",
];
