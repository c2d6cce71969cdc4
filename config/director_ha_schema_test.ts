import assert from "node:assert/strict";
import { ConfigError, validateConfig } from "./mod.ts";

Deno.test("director.ha: defaults are off, 100 ms heartbeats, 3 missed, sync every 100 ms", () => {
  const ha = validateConfig({}).director.ha;
  assert.equal(ha.mode, "none");
  assert.equal(ha.priority, 100);
  assert.equal(ha.preempt, true);
  assert.equal(ha.advertIntervalMs, 100);
  assert.equal(ha.deadAfter, 3);
  assert.equal(ha.listen, 7948);
  assert.deepEqual(ha.peers, []);
  assert.deepEqual(ha.sync, {
    enabled: true,
    intervalMs: 100,
    maxDatagramBytes: 1400,
    fullSyncIntervalMs: 30_000,
    gapGraceMs: 50,
    resyncIntervalMs: 1000,
  });
});

Deno.test("director.ha: errors name the key and the value", () => {
  const cases: [unknown, string][] = [
    [{ director: { vipMode: "nft", ha: { mode: "active-backup" } } }, "director.ha.mode"],
    [{ director: { ha: { mode: "active-standby" } } }, "director.ha.mode"],
    [{ director: { vipMode: "nft", ha: { mode: "active-active" } } }, "director.ha.mode"],
    [{ director: { ha: { priority: 255 } } }, "director.ha.priority"],
    [{ director: { ha: { advertIntervalMs: 5 } } }, "director.ha.advertIntervalMs"],
    [{ director: { ha: { peers: ["nohost"] } } }, "director.ha.peers"],
    [{ director: { ha: { vipGroup: "a b" } } }, "director.ha.vipGroup"],
    [{ director: { ha: { sync: { gapGraceMs: 0 } } } }, "director.ha.sync.gapGraceMs"],
    [{ director: { ha: { sync: { resyncIntervalMs: -1 } } } }, "director.ha.sync.resyncIntervalMs"],
  ];
  for (const [raw, key] of cases) {
    assert.throws(() => validateConfig(raw), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.includes(key), `${key} in: ${e.message}`);
      return true;
    });
  }
});

const aaService = (extra: Record<string, unknown>) => ({
  director: {
    ha: { mode: "active-active" },
    services: [{ vip: "10.0.0.1", port: 80, method: "dr", scheduler: "mh" }, {
      vip: "10.0.0.2",
      port: 80,
      method: "dr",
      ...extra,
    }],
  },
});

Deno.test("director.ha.mode active-active: mh, sh and dh services are accepted", () => {
  for (const scheduler of ["mh", "sh", "dh"]) {
    const d = validateConfig(aaService({ scheduler })).director;
    assert.equal(d.ha.mode, "active-active");
    assert.equal(d.services[1].scheduler, scheduler);
  }
});

Deno.test("director.ha.mode active-active: a stateful scheduler or persistence is a config error naming key and value", () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ scheduler: "wlc" }, "director.services[1].scheduler", '"wlc"'],
    [{}, "director.services[1].scheduler", '"wlc"'], // the default scheduler is stateful
    [{ scheduler: "rr" }, "director.services[1].scheduler", '"rr"'],
    [{ scheduler: "mh", persistence: { timeoutS: 300 } }, "director.services[1].persistence.timeoutS", "300"],
  ];
  for (const [extra, key, value] of cases) {
    assert.throws(() => validateConfig(aaService(extra)), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.includes(key), `${key} in: ${e.message}`);
      assert.ok(e.message.includes(value), `${value} in: ${e.message}`);
      assert.ok(e.message.includes("active-active"), e.message);
      return true;
    });
  }
});
