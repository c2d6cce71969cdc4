import assert from "node:assert/strict";
import { ipv4ToInt } from "../core/addr.ts";
import { parseYaml, validateConfig } from "../config/load.ts";
import { Dispatcher } from "./dispatcher.ts";
import { TCP_ACK, TCP_SYN } from "./tcp_state.ts";

const dir = new URL("../tests/fixtures/director_reload/", import.meta.url);
const load = async (n: number) => {
  const text = await Deno.readTextFile(new URL(`step${n}.yaml`, dir));
  return validateConfig(parseYaml(text, `step${n}.yaml`), { source: `step${n}.yaml` }).director;
};

/** Expected state after each step: service → scheduler and `server:weight` list (eligible ones), removed ones. */
const expected = [
  { services: { "10.0.0.100:80": "wlc 10.0.0.11:80:1 10.0.0.12:80:1" } },
  { services: { "10.0.0.100:80": "wlc 10.0.0.11:80:3 10.0.0.12:80:1 10.0.0.13:80:2" } },
  { services: { "10.0.0.100:80": "rr 10.0.0.11:80:3 10.0.0.13:80:2" }, persistence: [300_000, 24] },
  { services: { "10.0.0.101:443": "sh 10.0.0.21:443:1 10.0.0.22:443:1" }, establishedS: 300 },
];

Deno.test("Dispatcher.configure() applies step1..step4.yaml in place and keeps an established connection", async () => {
  const first = await load(1);
  const d = new Dispatcher({ maxConnections: 1000, timeouts: first.timeouts });
  // Clients whose connections must survive every step: one on each server of step 1.
  const clients = [1, 2].map((i) => ({
    saddr: ipv4ToInt(`192.0.2.${i}`),
    sport: 40000 + i,
    daddr: ipv4ToInt("10.0.0.100"),
    dport: 80,
  }));
  const owners: number[] = [];
  for (let step = 1; step <= 4; step++) {
    const cfg = step === 1 ? first : await load(step);
    d.configure(cfg.services);
    d.setOptions({ timeouts: cfg.timeouts, expireQuiescentTemplate: cfg.expireQuiescentTemplate });
    if (step === 1) {
      for (const c of clients) {
        owners.push(d.schedule(c, TCP_SYN, 0)!);
        d.schedule(c, TCP_ACK, 0);
      }
      assert.notEqual(owners[0], owners[1], "wlc put the two clients on different servers");
    }
    const want = expected[step - 1];
    const got = Object.fromEntries(
      d.services.map((s) => [s.key, [s.schedulerName, ...s.eligible.map((r) => `${r.key}:${r.weight}`)].join(" ")]),
    );
    assert.deepEqual(got, want.services, `services after step ${step}`);
    if (want.persistence) {
      assert.deepEqual([d.services[0].persistTimeoutMs, d.services[0].persistNetmask], want.persistence);
    }
    if (want.establishedS) assert.equal(d.timeouts.establishedS, want.establishedS);
    // Established connections keep their servers, even when the server or the service left.
    for (let i = 0; i < clients.length; i++) {
      assert.equal(d.schedule(clients[i], TCP_ACK, step * 1000), owners[i], `client ${i} after step ${step}`);
      assert.equal(d.server(owners[i])!.activeConns, 1);
    }
  }
  // The removed server 10.0.0.12 is still known while its connection lives, flagged removed.
  const gone = d.server(owners[1])!;
  assert.equal(gone.removed, true);
  assert.equal(d.expire(10_000_000), 2);
  assert.equal(d.server(owners[1]), undefined, "freed once its last connection ended");
  // New flows to the old VIP find no service; the new one schedules.
  assert.equal(d.schedule({ ...clients[0], sport: 1 }, TCP_SYN, 0), undefined);
  const id = d.schedule({ saddr: 1, sport: 2, daddr: ipv4ToInt("10.0.0.101"), dport: 443 }, TCP_SYN, 0);
  assert.ok(["10.0.0.21", "10.0.0.22"].includes(d.server(id!)!.address));
});
