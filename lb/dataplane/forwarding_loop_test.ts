import { assertEquals } from "../../tests/_assert.ts";
import { ipv4ToInt } from "../../core/addr.ts";
import { fromHex } from "../../packet/_hex.ts";
import { ACCEPT_SNAPLEN, runBpf } from "../../packet/bpf.ts";
import { DEFAULT_TCP_TIMEOUTS } from "../tcp_state.ts";
import type { DataplaneConfig } from "./config.ts";
import { filterFor } from "./forwarding_loop.ts";

const frameTo = (dst: string, port: number) => {
  const ip = dst.split(".").map((x) => Number(x).toString(16).padStart(2, "0")).join("");
  const p = port.toString(16).padStart(4, "0");
  return fromHex(
    `020000000001 020000000010 0800 4500002800014000400600000a00000a${ip} c350${p}000000010000000050022000 00000000`,
  );
};

const config = (services: DataplaneConfig["services"]): DataplaneConfig => ({
  services,
  maxConnections: 10,
  timeouts: { ...DEFAULT_TCP_TIMEOUTS },
  expireQuiescentTemplate: true,
  nextHops: {},
  serverState: [],
});

const CASES: { description: string; services: DataplaneConfig["services"]; frame: Uint8Array; accept: boolean }[] = [
  {
    description: "a VIP service accepts its VIP:port",
    services: [{ vip: "10.0.0.100", port: 80, reals: [] }],
    frame: frameTo("10.0.0.100", 80),
    accept: true,
  },
  {
    description: "a VIP service drops another address",
    services: [{ vip: "10.0.0.100", port: 80, reals: [] }],
    frame: frameTo("10.0.0.101", 80),
    accept: false,
  },
  {
    description: "a transparent service accepts any address on its port",
    services: [{ transparent: true, port: 80, reals: [] }],
    frame: frameTo("198.51.100.7", 80),
    accept: true,
  },
  {
    description: "no services drop everything",
    services: [],
    frame: frameTo("10.0.0.100", 80),
    accept: false,
  },
];

for (const c of CASES) {
  Deno.test(`filterFor(): ${c.description}`, () => {
    assertEquals(runBpf(filterFor(config(c.services)), c.frame), c.accept ? ACCEPT_SNAPLEN : 0);
  });
}

Deno.test("filterFor() keeps one rule per service", () => {
  const prog = filterFor(config([
    { vip: "10.0.0.100", port: 80, reals: [] },
    { vip: "10.0.0.100", port: 443, reals: [] },
  ]));
  assertEquals(prog.filter((i) => i.k === ipv4ToInt("10.0.0.100")).length, 2);
});
