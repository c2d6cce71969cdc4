/**
 * Transparent proxying through an nftables port-80 redirect, in a network namespace built for the
 * test (prefix wctp): the cache runs inside the namespace listening on 3128 in transparent mode;
 * `tcp dport 80 redirect to :3128` sends the client's port-80 connection to it; the origin runs
 * in the host namespace and is found from the Host header.
 *
 * ```
 * host ns: client, origin (A.1:port) ── veth ── ns wctp<id>: A.2, nft redirect 80 → 3128, webcache cache
 * ```
 */
import { assertEquals, assertMatch } from "../_assert.ts";
import { BUNDLE, DENO_FLAGS, ensureBundle } from "../_bin.ts";
import { parseRaw, sleep } from "./_cache_harness.ts";
import { requires } from "../_requires.ts";

async function run(cmd: string[], stdin?: string): Promise<void> {
  const p = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  if (stdin) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await p.output();
  if (!out.success) throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
}

async function exchangeTo(hostname: string, port: number, raw: string): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname, port });
  try {
    const b = new TextEncoder().encode(raw);
    let off = 0;
    while (off < b.length) off += await conn.write(b.subarray(off));
    const chunks: number[] = [];
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let i = 0; i < n; i++) chunks.push(buf[i]);
    }
    return new Uint8Array(chunks);
  } finally {
    conn.close();
  }
}

Deno.test({
  ...await requires("cache transparent: an nftables port-80 redirect in a namespace delivers clients to the cache", {
    netns: true,
    commands: ["nft"],
  }),
  async fn() {
    await ensureBundle();
    const r = crypto.getRandomValues(new Uint8Array(3));
    const tag = [...r.subarray(0, 2)].map((x) => x.toString(16).padStart(2, "0")).join("");
    const ns = `wctp${tag}`;
    const vh = `wctp${tag}h`;
    const vn = `wctp${tag}n`;
    const net = `10.${200 + (r[0] % 50)}.${r[1]}`;
    const hostIp = `${net}.${(r[2] % 60) * 4 + 1}`;
    const nsIp = `${net}.${(r[2] % 60) * 4 + 2}`;
    const cidr = `${net}.${(r[2] % 60) * 4}/30`;
    const dir = await Deno.makeTempDir({ prefix: "wctp-" });
    let child: Deno.ChildProcess | undefined;
    const ac = new AbortController();
    let origin: Deno.HttpServer<Deno.NetAddr> | undefined;
    try {
      await run(["ip", "netns", "add", ns]);
      await run(["ip", "link", "add", vh, "type", "veth", "peer", "name", vn]);
      await run(["ip", "link", "set", vn, "netns", ns]);
      await run(["ip", "addr", "add", `${hostIp}/30`, "dev", vh]);
      await run(["ip", "link", "set", vh, "up"]);
      await run(["ip", "-n", ns, "addr", "add", `${nsIp}/30`, "dev", vn]);
      await run(["ip", "-n", ns, "link", "set", vn, "up"]);
      await run(["ip", "-n", ns, "link", "set", "lo", "up"]);

      let originHits = 0;
      origin = Deno.serve({ hostname: hostIp, port: 0, signal: ac.signal, onListen: () => {} }, () => {
        originHits++;
        return new Response("through the redirect", { headers: { "cache-control": "max-age=60" } });
      });
      const cfgFile = `${dir}/appliance.yaml`;
      await Deno.writeTextFile(
        cfgFile,
        `cluster:\n  nodeName: ${ns}\ncache:\n  listen:\n    - address: 0.0.0.0:3128\n      mode: transparent\n  acl:\n    forward: ["${cidr}"]\n`,
      );
      child = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ns,
          Deno.execPath(),
          ...DENO_FLAGS,
          BUNDLE,
          "cache",
          "--config",
          cfgFile,
          "--workers",
          "1",
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // Wait for the cache inside the namespace.
      let up = false;
      for (let i = 0; i < 200 && !up; i++) {
        try {
          (await Deno.connect({ hostname: nsIp, port: 3128 })).close();
          up = true;
        } catch {
          await sleep(50);
        }
      }
      assertEquals(up, true, "cache started in the namespace");
      const req = `GET /page HTTP/1.1\r\nHost: ${hostIp}:${origin.addr.port}\r\nConnection: close\r\n\r\n`;
      // Without the redirect nothing listens on port 80.
      let refused = false;
      try {
        await exchangeTo(nsIp, 80, req);
      } catch (e) {
        refused = e instanceof Deno.errors.ConnectionRefused;
      }
      assertEquals(refused, true, "port 80 is closed before the nft rule");
      await run(
        ["ip", "netns", "exec", ns, "nft", "-f", "-"],
        `table ip ${ns} {\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n` +
          `    tcp dport 80 redirect to :3128\n  }\n}\n`,
      );
      const a = parseRaw(await exchangeTo(nsIp, 80, req));
      assertEquals(a.status, 200);
      assertEquals(a.text, "through the redirect");
      assertEquals(a.headers.get("x-cache"), `MISS from ${ns}`);
      const b = parseRaw(await exchangeTo(nsIp, 80, req));
      assertEquals(b.headers.get("x-cache"), `HIT from ${ns}`);
      assertEquals(originHits, 1);
      assertMatch(b.headers.get("via") ?? "", new RegExp(`1\\.1 ${ns}`));
    } finally {
      if (child) {
        try {
          child.kill("SIGTERM");
        } catch { /* exited */ }
        await child.status;
        await child.stderr.cancel();
      }
      ac.abort();
      await origin?.finished;
      await run(["ip", "netns", "del", ns]).catch(() => {});
      await run(["ip", "link", "del", vh]).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
