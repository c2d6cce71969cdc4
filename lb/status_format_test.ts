import assert from "node:assert/strict";
import type { DirectorStatus } from "./director.ts";
import { formatStatus, largeNum } from "./status_format.ts";

const zero = { conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 };
const rates = { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };
const status: DirectorStatus = {
  services: [{
    key: "10.0.0.100:80",
    name: "web",
    scheduler: "wlc",
    method: "dr",
    persistence: { timeoutS: 300, netmask: 24 },
    totals: { conns: 12, inPkts: 340, outPkts: 0, inBytes: 123_456_789_012, outBytes: 0 },
    rates: { ...rates, cps: 3.4 },
    servers: [{
      id: 0,
      key: "10.0.0.11:80",
      address: "10.0.0.11",
      port: 80,
      method: "dr",
      weight: 2,
      configWeight: 2,
      activeConns: 12,
      inactConns: 40,
      up: true,
      drained: false,
      overloaded: false,
      removed: false,
      sorry: false,
      totals: { ...zero, conns: 12 },
      rates,
    }],
  }],
  table: { entries: 52, maxEntries: 1000, bytes: 0, templates: 1 },
  counters: { newConns: 12, overflow: 0, noServer: 0, noService: 0, templateOverflow: 0 },
};

Deno.test("formatStatus() prints ipvsadm -Ln with forward names and persistence mask", () => {
  const text = formatStatus(status, "list");
  assert.match(text, /^TCP {2}10\.0\.0\.100:80 wlc persistent 300 mask 255\.255\.255\.0$/m);
  assert.match(text, /^ {2}-> 10\.0\.0\.11:80 {17}Route {3}2 {6}12 {9}40$/m);
});

Deno.test("formatStatus() prints --stats with K/M/G for large counters", () => {
  const text = formatStatus(status, "stats");
  assert.match(text, /^TCP {2}10\.0\.0\.100:80 +12 +340 +0 +123456M +0$/m);
  assert.match(formatStatus(status, "stats", true), / 123456789012 /);
});

Deno.test("largeNum() switches units as ipvsadm does", () => {
  assert.deepEqual([largeNum(99_999_999), largeNum(100_000_000), largeNum(2e11)].map((s) => s.trim()), [
    "99999999",
    "100000K",
    "200000M",
  ]);
});
