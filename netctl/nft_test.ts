import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { mssClampRuleset, redirectRuleset, vipDropRuleset } from "./nft.ts";

const CASES: { description: string; build: () => string; expected: string[] }[] = [
  {
    description: "vipDropRuleset() drops VIP:port and transparent ports at prerouting −300",
    build: () => vipDropRuleset("dp", [{ vip: "10.0.0.100", port: 80 }, { port: 8080 }]),
    expected: [
      "table ip dp {",
      "  chain pre {",
      "    type filter hook prerouting priority -300; policy accept;",
      "    ip daddr 10.0.0.100 tcp dport 80 drop",
      "    tcp dport 8080 drop",
      "  }",
      "}",
      "",
    ],
  },
  {
    description: "mssClampRuleset() sets the MSS of SYN-ACKs from the VIP",
    build: () => mssClampRuleset("mss", "10.0.0.100", 1440),
    expected: [
      "table ip mss {",
      "  chain out {",
      "    type filter hook output priority mangle; policy accept;",
      "    ip saddr 10.0.0.100 tcp flags & (syn | ack) == (syn | ack) tcp option maxseg size set 1440",
      "  }",
      "}",
      "",
    ],
  },
  {
    description: "redirectRuleset() intercepts a port to a local port",
    build: () => redirectRuleset("icpt", 80, 3128),
    expected: [
      "table ip icpt {",
      "  chain pre {",
      "    type nat hook prerouting priority dstnat; policy accept;",
      "    tcp dport 80 redirect to :3128",
      "  }",
      "}",
      "",
    ],
  },
];

for (const c of CASES) {
  Deno.test(c.description, () => assertEquals(c.build().split("\n"), c.expected));
}

Deno.test("nft rulesets reject names, addresses and ports that could inject rules", () => {
  assertThrows(() => vipDropRuleset("x; flush ruleset", [{ port: 80 }]), RangeError, "table name");
  assertThrows(() => vipDropRuleset("dp", [{ vip: "10.0.0.1 drop", port: 80 }]), RangeError, "VIP");
  assertThrows(() => vipDropRuleset("dp", [{ port: 0 }]), RangeError, "port 0");
  assertThrows(() => mssClampRuleset("mss", "10.0.0.100", 100), RangeError, "MSS 100");
  assertThrows(() => redirectRuleset("icpt", 80, 70000), RangeError, "port 70000");
});
