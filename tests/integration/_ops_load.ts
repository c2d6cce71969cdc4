/**
 * A {@link Load} as a process, for tests that must send it from inside a network namespace:
 * `deno run -A _ops_load.ts HOST PORT CLIENTS` prints `started`, runs until its stdin closes, then
 * prints one JSON line `{sent, ok, failures}`. Responses must be 200 with a body starting `body of /`.
 *
 * @module
 */
import { Load } from "./_ops_cluster.ts";

const [hostname, port, clients] = Deno.args;
const load = new Load(
  { hostname, port: Number(port), path: (n) => `/o${n % 200}` },
  Number(clients ?? "4"),
  (status, body) => status === 200 && body.startsWith("body of /"),
);
console.log("started");
for await (const _ of Deno.stdin.readable) { /* until closed */ }
await load.stop();
console.log(JSON.stringify({ sent: load.sent, ok: load.ok, failures: load.failures.slice(0, 20) }));
