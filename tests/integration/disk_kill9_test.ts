/**
 * kill -9 during heavy writes, many times: two worker processes of one instance (one evicting)
 * write and read a small cache directory and are killed with SIGKILL at a random moment; the next
 * round's workers (a new instance, as after a crash of the whole cache) verify every indexed
 * object byte for byte. Some rounds also delete the KV index first, so restarts go both ways.
 * At the end the test process itself opens the directory and checks every object file.
 */
import { deepStrictEqual as assertEquals, ok, strictEqual } from "node:assert/strict";
import { configureLogging } from "../../core/log.ts";
import { CacheDir } from "../../cache/store/disk/cache_dir.ts";
import { readAll, testBody } from "../conformance/store_suite.ts";

configureLogging({ components: { "cache.store": "warn" } });

const PROC = new URL("./_disk_writer_proc.ts", import.meta.url).pathname;
const ROUNDS = 8;
const MAX_BYTES = 6 * 1024 * 1024;

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", PROC, ...args],
    stdout: "piped",
    stderr: "null",
  }).spawn();
}

/** Reads stdout lines until READY; returns the lines before it and a reader for the rest. */
async function untilReady(p: Deno.ChildProcess): Promise<{ lines: string[]; rest: Promise<string> }> {
  const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const lines: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Writer exited before READY: ${buf}`);
    buf += value;
    const parts = buf.split("\n");
    buf = parts.pop()!;
    for (const l of parts) {
      if (l === "READY") {
        const rest = (async () => {
          let out = buf;
          for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
          return out;
        })();
        return { lines, rest };
      }
      lines.push(l);
    }
  }
}

Deno.test("kill -9 during heavy writes never leaves a damaged or wrong object, restarting with and without the KV index", async () => {
  const path = await Deno.makeTempDir({ prefix: "webcache-kill9-" });
  const procs: Deno.ChildProcess[] = [];
  try {
    let verifiedTotal = 0;
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 3 === 2) await Deno.remove(`${path}/index.kv`).catch(() => {});
      const instance = `kill9-${round}`;
      const a = spawn([path, instance, "0", "1", String(MAX_BYTES), `r${round}a`, round > 0 ? "1" : "0"]);
      procs.push(a);
      const ra = await untilReady(a);
      const b = spawn([path, instance, String(a.pid), "0", String(MAX_BYTES), `r${round}b`, "0"]);
      procs.push(b);
      const rb = await untilReady(b);
      if (round > 0) {
        const v = JSON.parse(ra.lines.find((l) => l.startsWith("{"))!);
        strictEqual(v.bad, 0, `round ${round}: ${JSON.stringify(v)}`);
        strictEqual(v.damaged, 0, `round ${round}: damaged files after kill -9`);
        verifiedTotal += v.verified;
      }
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 500));
      a.kill("SIGKILL");
      b.kill("SIGKILL");
      for (const [p, r] of [[a, ra], [b, rb]] as const) {
        const status = await p.status;
        const out = await r.rest;
        strictEqual(status.signal, "SIGKILL", `round ${round}: writer ended by itself: ${out}`);
        ok(!out.includes("BAD"), `round ${round}: ${out}`);
      }
      procs.length = 0;
    }
    ok(verifiedTotal > 20, `only ${verifiedTotal} objects verified over ${ROUNDS} restarts`);

    // Final check in this process: every object file is whole and correct, tmp/ is empty.
    const dir = await CacheDir.open({ path, maxBytes: MAX_BYTES, l1: 4, l2: 4, instance: "final" });
    try {
      await dir.whenReady();
      assertEquals([...Deno.readDirSync(`${path}/tmp`)], []);
      let n = 0;
      for await (const meta of dir.entries()) {
        const obj = await dir.get(meta);
        assertEquals(await readAll(obj!.openBody()), testBody(meta.primary, meta.bodyBytes), meta.primary);
        n++;
      }
      ok(n > 0);
      strictEqual(dir.stats().damaged, 0);
      ok(dir.stats().bytes <= MAX_BYTES, `${dir.stats().bytes} bytes in a ${MAX_BYTES}-byte directory`);
    } finally {
      await dir.close();
    }
  } finally {
    for (const p of procs) {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
      await p.status;
    }
    await Deno.remove(path, { recursive: true });
  }
});
