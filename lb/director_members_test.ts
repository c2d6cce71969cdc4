import assert from "node:assert/strict";
import { validateConfig } from "../config/load.ts";
import type { ServiceSpec } from "./dispatcher.ts";
import { Director } from "./director.ts";
import { type Forwarder, type ForwarderFactory, forwarderFactory, registerForwarder } from "./forwarder.ts";

/** Records what the director hands the DR forwarder (the real data plane needs root and namespaces). */
class RecordingForwarder implements Forwarder {
  readonly methods = ["dr", "tun"] as const;
  macs: Record<string, string> = {};
  updates: { reals: string[]; macs: Record<string, string> }[] = [];
  start(_services: readonly ServiceSpec[]): Promise<void> {
    return Promise.resolve();
  }
  setMacs(macs: Readonly<Record<string, string>>): void {
    this.macs = { ...macs };
  }
  update(services: readonly ServiceSpec[]): Promise<void> {
    this.updates.push({ reals: services.flatMap((s) => s.reals.map((r) => r.address)), macs: this.macs });
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("Director.setMembers() gives the DR forwarder the member real servers and their advertised MACs", async () => {
  const saved = forwarderFactory("dr");
  const fwd = new RecordingForwarder();
  registerForwarder("dr", () => fwd);
  const d = new Director(
    validateConfig({
      director: {
        services: [{
          name: "web",
          vip: "10.0.0.100",
          port: 80,
          method: "dr",
          fromMembership: true,
          health: { type: "none" },
        }],
      },
    }).director,
  );
  try {
    await d.start();
    const cache = (host: string, state: "alive" | "dead", mac?: string) => ({
      name: host,
      role: "cache",
      state,
      weight: 100,
      service: "web",
      addrs: { http: `${host}:3128` },
      ...(mac ? { mac } : {}),
    });
    d.setMembers([cache("10.0.0.21", "alive", "02:00:5e:00:00:21"), cache("10.0.0.22", "alive")]);
    await d.settled();
    assert.deepEqual(fwd.updates.at(-1), {
      reals: ["10.0.0.21", "10.0.0.22"],
      macs: { "10.0.0.21": "02:00:5e:00:00:21" }, // 10.0.0.22 advertises none: ARP
    });
    d.setMembers([cache("10.0.0.21", "dead", "02:00:5e:00:00:21"), cache("10.0.0.22", "alive", "02:00:5e:00:00:22")]);
    await d.settled();
    assert.deepEqual(fwd.updates.at(-1), { reals: ["10.0.0.22"], macs: { "10.0.0.22": "02:00:5e:00:00:22" } });
  } finally {
    await d.stop();
    registerForwarder("dr", saved as ForwarderFactory);
  }
});
