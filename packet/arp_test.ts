import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { fromHex, toHex } from "./_hex.ts";
import { ARP_REPLY, ARP_REQUEST, arpReplyFrame, arpRequestFrame, decodeArp, gratuitousArpFrame } from "./arp.ts";
import { formatMac, parseMac } from "./ethernet.ts";

// A who-has 10.0.0.100 tell 10.0.0.10 as Linux sends it (like tests/fixtures/arp_request_vip.hex).
const WHO_HAS = "0001 0800 06 04 0001 020000000010 0a00000a 000000000000 0a000064";

const DECODE: { description: string; input: string; expected: Record<string, unknown> | string }[] = [
  {
    description: "a who-has request",
    input: WHO_HAS,
    expected: {
      op: ARP_REQUEST,
      senderMac: "02:00:00:00:00:10",
      senderIp: ipv4ToInt("10.0.0.10"),
      targetMac: "00:00:00:00:00:00",
      targetIp: ipv4ToInt("10.0.0.100"),
    },
  },
  {
    description: "a reply",
    input: "0001 0800 06 04 0002 020000000001 0a000064 020000000010 0a00000a",
    expected: {
      op: ARP_REPLY,
      senderMac: "02:00:00:00:00:01",
      senderIp: ipv4ToInt("10.0.0.100"),
      targetMac: "02:00:00:00:00:10",
      targetIp: ipv4ToInt("10.0.0.10"),
    },
  },
  {
    description: "a truncated message",
    input: "0001 0800 06 04 0001",
    expected: "length 8 is less than message size 28",
  },
  {
    description: "a non-Ethernet hardware type",
    input: "0006 0800 06 04 0001 020000000010 0a00000a 000000000000 0a000064",
    expected: "are not Ethernet/IPv4",
  },
  {
    description: "an IPv6 protocol type",
    input: "0001 86dd 06 04 0001 020000000010 0a00000a 000000000000 0a000064",
    expected: "are not Ethernet/IPv4",
  },
];

for (const c of DECODE) {
  Deno.test(`decodeArp() ${typeof c.expected === "string" ? "rejects" : "decodes"} ${c.description}`, () => {
    const input = fromHex(c.input);
    if (typeof c.expected === "string") {
      assertThrows(() => decodeArp(input), SyntaxError, c.expected);
      return;
    }
    const m = decodeArp(input);
    assertEquals({ ...m, senderMac: formatMac(m.senderMac), targetMac: formatMac(m.targetMac) }, c.expected);
  });
}

const MAC = parseMac("02:00:00:00:00:01");
const VIP = ipv4ToInt("10.0.0.100");

const FRAMES: { description: string; build: () => Uint8Array; expected: string }[] = [
  {
    description: "arpReplyFrame() answers the requester from the VIP",
    build: () => arpReplyFrame(decodeArp(fromHex(WHO_HAS)), MAC, VIP),
    expected: "020000000010 020000000001 0806" +
      "0001 0800 06 04 0002 020000000001 0a000064 020000000010 0a00000a",
  },
  {
    description: "gratuitousArpFrame() broadcasts sender = target = VIP",
    build: () => gratuitousArpFrame(MAC, VIP),
    expected: "ffffffffffff 020000000001 0806" +
      "0001 0800 06 04 0001 020000000001 0a000064 000000000000 0a000064",
  },
  {
    description: "arpRequestFrame() asks who-has the target",
    build: () => arpRequestFrame(MAC, ipv4ToInt("10.0.0.2"), ipv4ToInt("10.0.0.11")),
    expected: "ffffffffffff 020000000001 0806" +
      "0001 0800 06 04 0001 020000000001 0a000002 000000000000 0a00000b",
  },
];

for (const c of FRAMES) {
  Deno.test(c.description, () => {
    assertEquals(toHex(c.build()), c.expected.replace(/\s+/g, ""));
  });
}
