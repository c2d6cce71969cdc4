/**
 * A flood of unauthenticated gossip TCP connections announcing huge frames against a real gossip
 * node process: its resident memory stays bounded (read from /proc), every connection is closed
 * promptly, and the cluster keeps working (a new node joins by push-pull afterwards).
 */
import { assert } from "../_assert.ts";
import { FAST, randomKey, startNode, stopAll, until } from "./_cluster_harness.ts";
import type { NodeProc } from "./_cluster_harness.ts";

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Opens a connection, announces `announce` bytes, pushes up to `push` junk bytes; resolves with ms until closed. */
async function flooder(port: number, announce: number, junk: Uint8Array, push: number): Promise<number> {
  const start = Date.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, announce);
  const reading = (async () => {
    const buf = new Uint8Array(256);
    try {
      while ((await conn.read(buf)) !== null) { /* discard */ }
    } catch { /* reset */ }
  })();
  try {
    await conn.write(head);
    for (let sent = 0; sent < push;) sent += await conn.write(junk.subarray(0, Math.min(junk.length, push - sent)));
  } catch { /* the node closed it: that is the point */ }
  await reading;
  try {
    conn.close();
  } catch { /* closed */ }
  return Date.now() - start;
}

Deno.test({
  name: "gossip TCP: 200 connections announcing huge frames cost no memory and are closed; members still join",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const key = randomKey();
    const nodes: (NodeProc | undefined)[] = [];
    try {
      const a = await startNode({ name: "a", key, cluster: { ...FAST } });
      nodes.push(a);
      const b = await startNode({ name: "b", key, cluster: { ...FAST, peers: [`127.0.0.1:${a.gossip}`] } });
      nodes.push(b);
      await until("a and b see each other", () => a.view.b === "alive" && b.view.a === "alive", 15_000, nodes);
      await new Promise((r) => setTimeout(r, 1000));
      const before = rssBytes(a.proc.pid);
      const junk = crypto.getRandomValues(new Uint8Array(64 * 1024));
      // Four waves of 50: each announces just under the stream limit (8 MiB) or 4 GiB, then pushes 2 MiB.
      const times: number[] = [];
      let peak = before;
      for (let wave = 0; wave < 4; wave++) {
        const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(a.proc.pid))), 50);
        times.push(
          ...await Promise.all(
            Array.from(
              { length: 50 },
              (_, i) => flooder(a.gossip, i % 2 ? 8 * 1024 * 1024 - 1 : 0xffffffff, junk, 2 * 1024 * 1024),
            ),
          ),
        );
        clearInterval(sampler);
      }
      const after = rssBytes(a.proc.pid);
      const mib = (n: number) => (n / 1048576).toFixed(1);
      console.log(`RSS before ${mib(before)} MiB, peak ${mib(peak)} MiB, after ${mib(after)} MiB`);
      // Before the fix each connection allocated its announced 8 MiB and filled 2 MiB of it: +200 MiB or more.
      assert(peak - before < 48 * 1048576, `peak RSS grew by ${mib(peak - before)} MiB`);
      assert(after - before < 32 * 1048576, `RSS grew by ${mib(after - before)} MiB and stayed`);
      assert(
        Math.max(...times) < 5000,
        `every flood connection was closed promptly (slowest ${Math.max(...times)} ms)`,
      );
      // The cluster still works: a new node joins through a (push-pull) and both old nodes see it.
      const c = await startNode({ name: "c", key, cluster: { ...FAST, peers: [`127.0.0.1:${a.gossip}`] } });
      nodes.push(c);
      await until(
        "c joined",
        () => a.view.c === "alive" && b.view.c === "alive" && c.view.b === "alive",
        15_000,
        nodes,
      );
    } finally {
      await stopAll(nodes);
    }
  },
});
