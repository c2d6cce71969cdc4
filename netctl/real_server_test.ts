import { assertEquals } from "../tests/_assert.ts";
import { type AllowedDirectors, allowedItem, formatCheckReport } from "./real_server.ts";

Deno.test("formatCheckReport() aligns names and explains failures", () => {
  const text = formatCheckReport([
    { name: "VIP 10.0.0.100/32 on lo", ok: true, value: "present", expected: "present" },
    { name: "arp_ignore", ok: false, value: "0 (all)", expected: "1", hint: "this host would answer ARP" },
  ]);
  assertEquals(text.split("\n"), [
    "ok    VIP 10.0.0.100/32 on lo  present",
    "FAIL  arp_ignore               0 (all)  (need 1: this host would answer ARP)",
  ]);
});

Deno.test("allowedItem() reports the allowed IP-in-IP sources and where they came from", () => {
  const rows: [AllowedDirectors, boolean, string][] = [
    [{ addrs: ["10.0.0.2", "10.0.0.3"], from: "--director" }, true, "10.0.0.2, 10.0.0.3 (--director)"],
    [{ addrs: ["10.0.0.2"], from: "membership" }, true, "10.0.0.2 (membership)"],
    [{ addrs: [], from: "membership" }, false, "none yet (membership: no live director member)"],
    [{ addrs: "any", from: "none" }, false, "any (no --director, no membership)"],
    [{ addrs: "any", from: "kernel" }, false, "any (kernel tunl0)"],
  ];
  for (const [a, ok, value] of rows) {
    const item = allowedItem(a);
    assertEquals([item.ok, item.value], [ok, value]);
  }
});

Deno.test("allowedItem() says when the list comes from the running cache", () => {
  const item = allowedItem({ addrs: ["10.0.0.2"], from: "membership", running: true });
  assertEquals([item.name, item.value], ["IP-in-IP outer sources allowed (running cache)", "10.0.0.2 (membership)"]);
});
