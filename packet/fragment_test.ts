import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { fromHex, toHex } from "./_hex.ts";
import { fragmentIpv4 } from "./fragment.ts";

// Expected bytes computed independently with Python's struct module (RFC 1071 checksums included).
const PAYLOAD = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627";
const WHOLE = "4500003c12340000400453e40a4d00020a4d000b" + PAYLOAD;
const MIDDLE = "4500003c1234200a400433da0a4d00020a4d000b" + PAYLOAD; // offset 80 bytes, MF set

const CASES: { description: string; packet: string; mtu: number; expected: string[] }[] = [
  { description: "a packet that fits is returned whole", packet: WHOLE, mtu: 60, expected: [WHOLE] },
  {
    description: "a packet one byte too big splits in two, payload pieces a multiple of 8",
    packet: WHOLE,
    mtu: 44,
    expected: [
      "4500002c12342000400433f40a4d00020a4d000b000102030405060708090a0b0c0d0e0f1011121314151617",
      "4500002412340003400453f90a4d00020a4d000b18191a1b1c1d1e1f2021222324252627",
    ],
  },
  {
    description: "a fragment is split again, keeping its offset base and MF on the last piece",
    packet: MIDDLE,
    mtu: 36,
    expected: [
      "450000241234200a400433f20a4d00020a4d000b000102030405060708090a0b0c0d0e0f",
      "450000241234200c400433f00a4d00020a4d000b101112131415161718191a1b1c1d1e1f",
      "4500001c1234200e400433f60a4d00020a4d000b2021222324252627",
    ],
  },
  {
    description: "bytes after the total length are ignored",
    packet: WHOLE + "ffff",
    mtu: 1500,
    expected: [WHOLE],
  },
];

for (const c of CASES) {
  Deno.test(`fragmentIpv4(): ${c.description}`, () => {
    assertEquals(fragmentIpv4(fromHex(c.packet), c.mtu).map(toHex), c.expected);
  });
}

const ERRORS: { description: string; packet: string; mtu: number; error: typeof Error; message: string }[] = [
  {
    description: "an MTU without room for 8 bytes of payload",
    packet: WHOLE,
    mtu: 27,
    error: RangeError,
    message: "MTU 27 leaves less than 8 bytes after the 20-byte header",
  },
  {
    description: "DF set on a packet that does not fit",
    packet: "4500003c12344000400413e40a4d00020a4d000b" + PAYLOAD,
    mtu: 44,
    error: RangeError,
    message: "Don't Fragment is set and 60 bytes exceed MTU 44",
  },
  {
    description: "a truncated header",
    packet: "4500003c1234",
    mtu: 1500,
    error: SyntaxError,
    message: "length 6 is less than header size 20",
  },
  {
    description: "a total length beyond the bytes given",
    packet: WHOLE.slice(0, 100),
    mtu: 1500,
    error: SyntaxError,
    message: "total length 60, 50 bytes given",
  },
  {
    description: "IPv6",
    packet: "6" + WHOLE.slice(1),
    mtu: 1500,
    error: SyntaxError,
    message: "version 6 is not 4",
  },
];

for (const c of ERRORS) {
  Deno.test(`fragmentIpv4() rejects ${c.description}`, () => {
    assertThrows(() => fragmentIpv4(fromHex(c.packet), c.mtu), c.error, c.message);
  });
}

Deno.test("fragmentIpv4() pieces of a 1520-byte tunnel packet fit a 1500 MTU and cover the payload once", () => {
  const total = 1520;
  const p = new Uint8Array(total);
  p.set(fromHex("450005f0beef0000400400000a4d00020a4d000b"));
  for (let i = 20; i < total; i++) p[i] = i & 0xff;
  const frags = fragmentIpv4(p, 1500);
  assertEquals(frags.map((f) => f.length), [1500, 40]);
  const joined = new Uint8Array(total - 20);
  for (const f of frags) {
    const off = (((f[6] << 8) | f[7]) & 0x1fff) * 8;
    joined.set(f.subarray(20), off);
  }
  assertEquals(joined, p.subarray(20));
});
