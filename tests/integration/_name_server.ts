/**
 * Test helper process: a tiny HTTP server answering every request with its name on
 * 0.0.0.0:PORT, used as a real server until the cache is wired in. With `--vip VIP --forwarding
 * dr|tun [--director IP]` it first prepares the host with `setupRealServer()` and undoes it on
 * SIGTERM. Prints "ready" when serving; on exit prints the set-up report as JSON.
 *
 * Usage: _name_server.ts PORT NAME [--vip VIP --forwarding dr|tun --director IP]
 *
 * @module
 */
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
    director: opt("--director"),
  })
  : undefined;
const body = name + "\n";
const ac = new AbortController();
const server = Deno.serve(
  { port: Number(portText), hostname: "0.0.0.0", signal: ac.signal, onListen: () => console.log("ready") },
  (req) => new URL(req.url).pathname === "/big" ? new Response(new Uint8Array(4 << 20).fill(97)) : new Response(body),
);
const stop = async () => {
  ac.abort();
  await server.finished;
  const report = await setup?.report();
  await setup?.undo();
  console.log(JSON.stringify({ decap: setup?.decap, report }));
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
