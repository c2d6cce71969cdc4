/**
 * Test helper process: runs the director runtime (`lb/director.ts`) with the DR/TUN data plane
 * registered, from a `director:` config section given as JSON in argv[0], until SIGTERM. Prints
 * "ready" once forwarding, the director's status as one JSON line on SIGUSR2 and at exit, and
 * "error: ..." (exit 1) when it cannot start. Used by the data-plane integration tests and
 * benchmarks until `webcache director` wires the data plane in.
 *
 * @module
 */
import "../../lb/dataplane/mod.ts";
import { validateConfig } from "../../config/load.ts";
import { Director } from "../../lb/director.ts";

let director: Director;
try {
  const cfg = validateConfig({ director: JSON.parse(Deno.args[0]) }, { source: "argv" });
  director = new Director(cfg.director);
  await director.start();
} catch (e) {
  console.log(`error: ${(e as Error).message}`);
  Deno.exit(1);
}
const done = Promise.withResolvers<void>();
Deno.addSignalListener("SIGTERM", () => done.resolve());
Deno.addSignalListener("SIGINT", () => done.resolve());
Deno.addSignalListener("SIGUSR2", () => console.log(JSON.stringify(director.status())));
console.log("ready");
await done.promise;
const status = director.status();
await director.stop();
console.log(JSON.stringify(status));
Deno.exit(0);
