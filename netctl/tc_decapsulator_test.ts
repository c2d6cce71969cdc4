import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { fromHex, toHex } from "../packet/_hex.ts";
import { TcDecapsulator, TCX_NEXT, TCX_PASS } from "./tc_decapsulator.ts";
import { MAX_DECAP_DIRECTORS } from "./ipip_decap_program.ts";
import { requires } from "../tests/_requires.ts";

// Frames built independently with Python's struct module (header checksums included).
const ETH = "020000000011020000000002 0800";
const INNER = "4500002800014000400625c80a4d000a0a4d0064c350005000000001000000005002200000000000";
const FROM_DIRECTOR = "4500003c00074000400426110a4d00020a4d000b"; // 10.77.0.2 → 10.77.0.11, DF
const FROM_OTHER = "4500003c00074000400426100a4d00030a4d000b"; // 10.77.0.3
const FROM_HIGH = "4500003c0007400040046fb5c0a800020a4d000b"; // 192.168.0.2 (high bit set)
const FRAGMENT = "4500003c00072000400446110a4d00020a4d000b"; // MF set

const CASES: { description: string; frame: string; directors: string[]; decapsulated: boolean }[] = [
  {
    description: "an IP-in-IP packet from an allowed director",
    frame: FROM_DIRECTOR,
    directors: ["10.77.0.2"],
    decapsulated: true,
  },
  {
    description: "a director above 128.0.0.0 among several",
    frame: FROM_HIGH,
    directors: ["10.77.0.2", "192.168.0.2"],
    decapsulated: true,
  },
  {
    description: "an IP-in-IP packet when no director is known (empty map)",
    frame: FROM_DIRECTOR,
    directors: [],
    decapsulated: false,
  },
  {
    description: "an IP-in-IP packet from another source",
    frame: FROM_OTHER,
    directors: ["10.77.0.2"],
    decapsulated: false,
  },
  {
    description: "a fragment of an outer packet (left to reassembly)",
    frame: FRAGMENT,
    directors: ["10.77.0.2"],
    decapsulated: false,
  },
  { description: "a plain TCP packet", frame: INNER.slice(0, 40), directors: ["10.77.0.2"], decapsulated: false },
];

for (const c of CASES) {
  Deno.test({
    ...await requires(
      `TcDecapsulator ${c.decapsulated ? "strips the outer header of" : "passes on"} ${c.description}`,
      { root: true },
    ),
    fn() {
      const d = TcDecapsulator.attach({ interfaces: [], directors: c.directors });
      try {
        const frame = fromHex(ETH + c.frame + INNER);
        const r = d.run(frame);
        if (c.decapsulated) {
          assertEquals(r.verdict, TCX_PASS);
          assertEquals(toHex(r.frame), toHex(fromHex(ETH + INNER)));
          assertEquals(d.stats(), { packets: 1, bytes: INNER.length / 2 });
        } else {
          assertEquals(r.verdict, TCX_NEXT);
          assertEquals(toHex(r.frame), toHex(frame));
          assertEquals(d.stats(), { packets: 0, bytes: 0 });
        }
      } finally {
        d.close();
      }
    },
  });
}

Deno.test({
  ...await requires("TcDecapsulator.setDirectors() changes the allowed sources while the program stays loaded", {
    root: true,
  }),
  fn() {
    const d = TcDecapsulator.attach({ interfaces: [], directors: [] });
    try {
      const verdict = (outer: string) => d.run(fromHex(ETH + outer + INNER)).verdict;
      assertEquals([verdict(FROM_DIRECTOR), verdict(FROM_OTHER)], [TCX_NEXT, TCX_NEXT]);
      d.setDirectors(["10.77.0.2"]);
      assertEquals([verdict(FROM_DIRECTOR), verdict(FROM_OTHER)], [TCX_PASS, TCX_NEXT]);
      d.setDirectors(["10.77.0.3", "192.168.0.2"]);
      assertEquals(d.directors, ["10.77.0.3", "192.168.0.2"]);
      assertEquals([verdict(FROM_DIRECTOR), verdict(FROM_OTHER), verdict(FROM_HIGH)], [TCX_NEXT, TCX_PASS, TCX_PASS]);
      d.setDirectors([]);
      assertEquals([verdict(FROM_DIRECTOR), verdict(FROM_OTHER), verdict(FROM_HIGH)], [TCX_NEXT, TCX_NEXT, TCX_NEXT]);
      assertEquals(d.stats().packets, 3);
    } finally {
      d.close();
    }
  },
});

Deno.test({
  ...await requires(
    "TcDecapsulator.setDirectors() rejects too many directors and non-IPv4 addresses, keeping the map",
    { root: true },
  ),
  fn() {
    const d = TcDecapsulator.attach({ interfaces: [], directors: ["10.77.0.2"] });
    try {
      const many = Array.from({ length: MAX_DECAP_DIRECTORS + 1 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
      assertThrows(() => d.setDirectors(many), RangeError, "65 directors");
      assertThrows(() => d.setDirectors(["10.77.0.2", "fe80::1"]), RangeError, '"fe80::1": not an IPv4 address');
      assertEquals(d.directors, ["10.77.0.2"]);
      assertEquals(d.run(fromHex(ETH + FROM_DIRECTOR + INNER)).verdict, TCX_PASS);
    } finally {
      d.close();
    }
  },
});
