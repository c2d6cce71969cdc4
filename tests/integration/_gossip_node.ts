/**
 * A gossip-only node for the cluster integration tests: starts a {@link Membership} and an
 * {@link AdminServer} (`/members`) from a config given as JSON, prints one JSON line
 * `{"gossip":PORT,"admin":PORT,"id":ID}` on stdout when ready, then one line
 * `{"members":{NAME:STATE,...}}` after each `change` event (so tests inside network namespaces
 * can watch it), and on SIGTERM announces its leave and exits 0. The cluster key comes from
 * `WEBCACHE_CLUSTER_KEY`, never from argv.
 *
 * Usage: `deno run -A --unstable-net _gossip_node.ts '<config json>' '<record json>' [appliance.yaml]`
 * (with the file, which must hold the same config, its text and version are what
 * `cluster.configSync` offers to peers; SIGHUP publishes a change of the file, as the roles do, and
 * prints `{"config":{"version":N,"hash":H}}` or `{"configError":MESSAGE}`).
 *
 * @module
 */
import { AdminServer } from "../../admin/server.ts";
import { Membership } from "../../cluster/mod.ts";
import { validateConfig } from "../../config/load.ts";
import { configureLogging, printOut } from "../../core/log.ts";

const cfg = validateConfig(JSON.parse(Deno.args[0]));
const record = JSON.parse(Deno.args[1] ?? "{}");
configureLogging({ level: cfg.log.level, components: cfg.log.components });
const m = await Membership.start({ cfg, record: { role: "cache", weight: 100, ...record }, configFile: Deno.args[2] });
const admin = new AdminServer({
  hostname: "127.0.0.1",
  port: 0,
  allow: ["127.0.0.0/8"],
  node: m.local.name,
  role: m.local.role,
}).start();
m.registerAdmin(admin);
Deno.addSignalListener("SIGTERM", async () => {
  await m.leave();
  await m.stop();
  await admin.stop();
  Deno.exit(0);
});
Deno.addSignalListener("SIGHUP", () => {
  m.publishConfig().then(
    (v) => printOut(JSON.stringify({ config: v })),
    (e) => printOut(JSON.stringify({ configError: (e as Error).message })),
  );
});
printOut(JSON.stringify({ gossip: m.addr.port, admin: admin.addr.port, id: m.local.id }));
const report = () =>
  printOut(JSON.stringify({ members: Object.fromEntries(m.members().map((r) => [r.name, r.state])) }));
m.onChange(report);
report();
