import { assertEquals } from "../tests/_assert.ts";
import { formatCheckReport } from "./real_server.ts";

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
