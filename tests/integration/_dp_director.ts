/**
 * Test helper process: runs the DR/TUN {@link PacketForwarder} with services given as JSON in
 * argv[0] (`{interface, vipMode, services}`) until SIGTERM, printing "ready" once forwarding and
 * the forwarder's stats as JSON on SIGUSR2 and at exit. Used by the data-plane integration tests
 * and benchmarks.
 *
 * @module
 */
import { PacketForwarder } from "../../lb/dataplane/packet_forwarder.ts";

const spec = JSON.parse(Deno.args[0]);
const fwd = new PacketForwarder({ interface: spec.interface, vipMode: spec.vipMode ?? "arp", macs: spec.macs });
try {
  await fwd.start(spec.services);
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  Deno.exit(1);
}
const done = Promise.withResolvers<void>();
Deno.addSignalListener("SIGTERM", () => done.resolve());
Deno.addSignalListener("SIGINT", () => done.resolve());
Deno.addSignalListener("SIGUSR2", () => console.log(JSON.stringify(fwd.stats())));
console.log("ready");
await done.promise;
const stats = fwd.stats();
await fwd.stop();
console.log(JSON.stringify(stats));
Deno.exit(0);
