import assert from "node:assert/strict";
import { ipv4ToInt } from "../core/addr.ts";
import { Dispatcher } from "./dispatcher.ts";
import { route } from "./route.ts";
import { TCP_ACK, TCP_SYN } from "./tcp_state.ts";

Deno.test("route() explains a scheduler decision, then an existing connection, and changes nothing", () => {
  const d = new Dispatcher({ maxConnections: 10 });
  d.configure([{
    vip: "10.0.0.100",
    port: 80,
    scheduler: "rr",
    reals: [{ address: "10.0.0.11" }, { address: "10.0.0.12" }],
  }]);
  const flow = { saddr: ipv4ToInt("192.0.2.1"), sport: 40000, daddr: ipv4ToInt("10.0.0.100"), dport: 80 };
  const before = route(flow, d, { nowMs: 0 });
  assert.equal(before.reason, "scheduler");
  assert.equal(before.server, "10.0.0.11:80");
  assert.deepEqual(route(flow, d, { nowMs: 0 }), before, "asking twice gives the same answer");
  assert.equal(d.table.size, 0);
  assert.equal(d.server(d.schedule(flow, TCP_SYN, 0)!)!.key, "10.0.0.11:80", "the real decision matches");
  const after = route(flow, d, { nowMs: 1, tcpFlags: TCP_ACK });
  assert.deepEqual([after.reason, after.server, after.state], ["connection", "10.0.0.11:80", "ESTABLISHED"]);
});
