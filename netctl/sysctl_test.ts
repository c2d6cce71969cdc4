import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { sysctlPath } from "./sysctl.ts";

const CASES: { description: string; name: string; expected: string }[] = [
  {
    description: "a per-interface key",
    name: "net.ipv4.conf.all.arp_ignore",
    expected: "/proc/sys/net/ipv4/conf/all/arp_ignore",
  },
  {
    description: "an interface name with a dot (VLAN)",
    name: "net.ipv4.conf.eth0.100.rp_filter",
    expected: "/proc/sys/net/ipv4/conf/eth0.100/rp_filter",
  },
  { description: "a plain key", name: "net.ipv4.ip_forward", expected: "/proc/sys/net/ipv4/ip_forward" },
];

for (const c of CASES) {
  Deno.test(`sysctlPath() maps ${c.description}`, () => assertEquals(sysctlPath(c.name), c.expected));
}

Deno.test("sysctlPath() rejects names that would leave /proc/sys", () => {
  assertThrows(() => sysctlPath("net/../../etc/passwd"), RangeError);
});
