import assert from "node:assert/strict";
import type { MemberView } from "./director.ts";
import { memberMacs } from "./member_macs.ts";

const member = (o: Partial<MemberView> & { http?: string }): MemberView => ({
  name: "c",
  role: "cache",
  state: "alive",
  weight: 100,
  service: "web",
  addrs: { http: o.http ?? "10.0.0.2:80" },
  ...o,
});

Deno.test("memberMacs() maps each live cache's HTTP host to its advertised MAC", () => {
  const table: [string, MemberView[], Record<string, string>][] = [
    ["alive cache", [member({ mac: "02:00:5E:10:00:02" })], { "10.0.0.2": "02:00:5e:10:00:02" }],
    ["draining cache keeps its MAC", [member({ state: "draining", mac: "02:00:00:00:00:03" })], {
      "10.0.0.2": "02:00:00:00:00:03",
    }],
    ["suspect cache keeps its MAC", [member({ state: "suspect", mac: "02:00:00:00:00:03" })], {
      "10.0.0.2": "02:00:00:00:00:03",
    }],
    ["dead cache", [member({ state: "dead", mac: "02:00:00:00:00:03" })], {}],
    ["left cache", [member({ state: "left", mac: "02:00:00:00:00:03" })], {}],
    ["director", [member({ role: "director", mac: "02:00:00:00:00:03" })], {}],
    ["no MAC (ARP fallback)", [member({})], {}],
    ["malformed MAC", [member({ mac: "02:00:00:00:00" })], {}],
    ["all-zero MAC (loopback)", [member({ mac: "00:00:00:00:00:00" })], {}],
    ["no HTTP endpoint", [{ ...member({ mac: "02:00:00:00:00:03" }), addrs: {} }], {}],
    ["two caches", [
      member({ http: "10.0.0.2:3128", mac: "02:00:00:00:00:02" }),
      member({ http: "10.0.0.3:3128", mac: "02:00:00:00:00:03" }),
    ], { "10.0.0.2": "02:00:00:00:00:02", "10.0.0.3": "02:00:00:00:00:03" }],
  ];
  for (const [name, members, want] of table) assert.deepEqual(memberMacs(members), want, name);
});
