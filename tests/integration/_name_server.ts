/**
 * Test helper process: a tiny HTTP server answering every request with its name (and the Host
 * header) on 0.0.0.0:PORT for each of a comma-separated list of ports, used as a real server until the cache is wired in. With `--vip VIP --forwarding
 * dr|tun [--director IP]` it first prepares the host with `setupRealServer()` and undoes it on
 * SIGTERM. Prints "ready" when serving; on exit prints the set-up report as JSON.
 *
 * Usage: _name_server.ts PORT[,PORT...] NAME [--vip VIP --forwarding dr|tun --director IP[,IP...] --no-mss-clamp --no-ebpf-decap --intercept PORT:TOPORT]
 *
 * @module
 */
import { installTable, redirectRuleset } from "../../netctl/nft.ts";
import { setupRealServer } from "../../netctl/real_server.ts";

const [portText, name, ...rest] = Deno.args;
const opt = (flag: string) => {
  const i = rest.indexOf(flag);
  return i >= 0 ? rest[i + 1] : undefined;
};
const vip = opt("--vip");
const setup = vip
  ? await setupRealServer({
    vip,
    forwarding: (opt("--forwarding") ?? "dr") as "dr" | "tun",
    director: opt("--director")?.split(","),
    mssClamp: !rest.includes("--no-mss-clamp"),
    ebpfDecap: !rest.includes("--no-ebpf-decap"),
  })
  : undefined;
const intercept = opt("--intercept")?.split(":").map(Number);
const removeIntercept = intercept
  ? await installTable("webcache_intercept", redirectRuleset("webcache_intercept", intercept[0], intercept[1]))
  : undefined;
const ac = new AbortController();
const handler = async (req: Request) => {
  const url = new URL(req.url);
  if (url.pathname === "/big") return new Response(new Uint8Array(4 << 20).fill(97));
  // Read (and count) any upload so large bodies cross the network.
  const got = req.body ? (await req.arrayBuffer()).byteLength : 0;
  return new Response(`${name} ${req.headers.get("host")} ${got}\n`);
};
const servers = portText.split(",").map((p) =>
  Deno.serve({ port: Number(p), hostname: "0.0.0.0", signal: ac.signal, onListen: () => {} }, handler)
);
console.log("ready");
const stop = async () => {
  ac.abort();
  await Promise.all(servers.map((s) => s.finished));
  const report = await setup?.report();
  const ebpf = setup?.ebpfStats?.();
  await setup?.undo();
  await removeIntercept?.();
  console.log(JSON.stringify({ decap: setup?.decap, ebpf, report }));
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
