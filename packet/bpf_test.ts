import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { fromHex, toHex } from "./_hex.ts";
import { ACCEPT_SNAPLEN, encodeSockFilters, runBpf, vipFilterProgram } from "./bpf.ts";

const ETH = "020000000001 020000000010 0800";
const frame = (ip: string, tcp = "c350 0050 00000001 00000000 5002 2000 0000 0000") => fromHex(ETH + ip + tcp);
// IPv4 headers (checksums irrelevant to the filter).
const TO_VIP = "4500 0028 0001 4000 4006 0000 0a00000a 0a000064";
const TO_OTHER = "4500 0028 0001 4000 4006 0000 0a00000a 0a000065";
const UDP_TO_VIP = "4500 0028 0001 4000 4011 0000 0a00000a 0a000064";
const FRAGMENT = "4500 0028 0001 0001 4006 0000 0a00000a 0a000064";
const WITH_OPTIONS = "4600 002c 0001 4000 4006 0000 0a00000a 0a000064 01010101";

const VIP = ipv4ToInt("10.0.0.100");
const RULES = [{ vip: VIP, port: 80 }, { vip: VIP, port: 443 }, { port: 8080 }];

const CASES: { description: string; input: Uint8Array; expected: number }[] = [
  { description: "TCP to VIP:80", input: frame(TO_VIP), expected: ACCEPT_SNAPLEN },
  {
    description: "TCP to VIP:443",
    input: frame(TO_VIP, "c350 01bb 00000001 00000000 5002 2000 0000 0000"),
    expected: ACCEPT_SNAPLEN,
  },
  {
    description: "TCP to VIP:22",
    input: frame(TO_VIP, "c350 0016 00000001 00000000 5002 2000 0000 0000"),
    expected: 0,
  },
  { description: "TCP to another address on port 80", input: frame(TO_OTHER), expected: 0 },
  {
    description: "TCP to any address on transparent port 8080",
    input: frame(TO_OTHER, "c350 1f90 00000001 00000000 5002 2000 0000 0000"),
    expected: ACCEPT_SNAPLEN,
  },
  { description: "UDP to VIP:80", input: frame(UDP_TO_VIP), expected: 0 },
  { description: "a non-first fragment", input: frame(FRAGMENT), expected: 0 },
  { description: "TCP to VIP:80 behind IP options", input: frame(WITH_OPTIONS), expected: ACCEPT_SNAPLEN },
  { description: "an ARP frame", input: fromHex("ffffffffffff 020000000010 0806 0001080006040001"), expected: 0 },
  { description: "a truncated frame", input: fromHex(ETH + "4500"), expected: 0 },
];

const prog = vipFilterProgram(RULES);
for (const c of CASES) {
  Deno.test(`vipFilterProgram() ${c.expected ? "accepts" : "drops"} ${c.description}`, () => {
    assertEquals(runBpf(prog, c.input), c.expected);
  });
}

Deno.test("vipFilterProgram() encodes struct sock_filter bytes for one VIP and port", () => {
  // Same shape as `tcpdump -dd 'ip and tcp and dst host 10.0.0.100 and dst port 80'` reduced to
  // our instruction set: the first nine instructions are fixed, then one rule block, drop, accept.
  const p = vipFilterProgram([{ vip: VIP, port: 80 }]);
  assertEquals(p.length, 15);
  assertEquals(toHex(encodeSockFilters(p.slice(0, 2))), "28000000" + "0c000000" + "1500000b" + "00080000");
  assertEquals(p[p.length - 1], { code: 6, jt: 0, jf: 0, k: ACCEPT_SNAPLEN });
});

Deno.test("vipFilterProgram() rejects no rules, too many rules and bad ports", () => {
  assertThrows(() => vipFilterProgram([]), RangeError, "no rules");
  assertThrows(() => vipFilterProgram(Array.from({ length: 41 }, (_, i) => ({ port: i + 1 }))), RangeError, "exceed");
  assertThrows(() => vipFilterProgram([{ port: 0 }]), RangeError, "port 0");
});
