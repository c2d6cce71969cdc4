import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { crc32c } from "../core/crc32c.ts";
import {
  type ConnState,
  ConnStateDecodeError,
  decodeConnState,
  encodeConnState,
  newConnRecords,
  newTemplateRecords,
  swapWords,
} from "./conn_state_codec.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/#[^\n]*/g, "").match(/[0-9a-f]{2}/gi)!.map((b) => parseInt(b, 16)));
const ascii = (s: string) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
/** Appends the CRC-32C trailer (little-endian) to `body`. */
function seal(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32c(body), true);
  return out;
}
/** Re-computes the trailer after a deliberate change, so later checks are reached. */
const reseal = (b: Uint8Array) => seal(b.subarray(0, b.length - 4));

/** One service, one server, one ESTABLISHED connection placed by a template, and that template. */
const GOLDEN_STATE: ConnState = {
  savedAtMs: 1_700_000_000_000,
  services: [{ key: "10.0.0.100:80", netmask: 32 }],
  servers: [{ service: 0, key: "10.0.0.11:80" }],
  conns: {
    saddr: Uint32Array.of(0x0a000005),
    daddr: Uint32Array.of(0x0a000064),
    ports: Uint32Array.of(((40000 << 16) | 80) >>> 0),
    server: Uint16Array.of(0),
    state: Uint8Array.of(1),
    flags: Uint8Array.of(1),
    remainingMs: Uint32Array.of(900_000),
  },
  templates: {
    client: Uint32Array.of(0x0a000005),
    server: Uint16Array.of(0),
    remainingMs: Uint32Array.of(300_000),
  },
};

// Written field by field from the byte diagram, not produced by the encoder.
const GOLDEN = seal(hex(`
  57 43 43 53                # magic "WCCS"
  01 00 20 00                # version 1, header bytes 32
  00 00 80 56 fe bc 78 42    # saved at 1.7e12 ms (float64 LE)
  01 00 00 00 01 00 00 00    # 1 service, 1 server
  01 00 00 00 01 00 00 00    # 1 connection, 1 template
  20 0d ${ascii("10.0.0.100:80")}   # service: netmask 32, key length 13
  00 00 0c ${ascii("10.0.0.11:80")} # server: service 0, key length 12
  00 00                      # padding: records start at offset 64
  05 00 00 0a 64 00 00 0a    # client 10.0.0.5, virtual 10.0.0.100
  50 00 40 9c                # client port 40000 << 16 | 80
  00 00 01 01                # server 0, ESTABLISHED, placed by a template
  a0 bb 0d 00                # 900,000 ms left
  05 00 00 0a 00 00 00 00    # template: client 10.0.0.5, server 0, reserved
  e0 93 04 00                # 300,000 ms left
`));

/** Offsets in GOLDEN used by the damage cases. */
const AT = { version: 4, header: 6, savedAt: 8, conns: 24, svcNetmask: 32, svcKey: 34, srvService: 47, srvKey: 50 };
const CONN = 64;

function mutate(f: (b: Uint8Array, v: DataView) => void, sealAgain = true): Uint8Array {
  const b = GOLDEN.slice();
  f(b, new DataView(b.buffer));
  return sealAgain ? reseal(b) : b;
}

Deno.test("encodeConnState() writes the golden bytes of the byte diagram", () => {
  assertEquals(encodeConnState(GOLDEN_STATE), GOLDEN);
});

Deno.test("decodeConnState() reads the golden bytes", () => {
  assertEquals(decodeConnState(GOLDEN), GOLDEN_STATE);
});

Deno.test("decodeConnState() reads an empty table", () => {
  const empty: ConnState = {
    savedAtMs: 5,
    services: [],
    servers: [],
    conns: newConnRecords(0),
    templates: newTemplateRecords(0),
  };
  const bytes = encodeConnState(empty);
  assertEquals(bytes.length, 36);
  assertEquals(decodeConnState(bytes), empty);
});

Deno.test("encodeConnState() and decodeConnState() round-trip 10,000 entries over many servers", () => {
  const n = 10_000;
  const s: ConnState = {
    savedAtMs: 1_750_000_000_123.5,
    services: [{ key: "10.0.0.100:80", netmask: 24 }, { key: "*:8080", netmask: 32 }],
    servers: Array.from({ length: 300 }, (_, i) => ({ service: i % 2, key: `10.1.${i >> 8}.${i & 255}:80` })),
    conns: newConnRecords(n),
    templates: newTemplateRecords(n / 10),
  };
  for (let i = 0; i < n; i++) {
    s.conns.saddr[i] = (0xc0a80000 + i) >>> 0;
    s.conns.daddr[i] = 0x0a000064;
    s.conns.ports[i] = ((i << 16) | 80) >>> 0;
    s.conns.server[i] = i % 300;
    s.conns.state[i] = i % 7;
    s.conns.flags[i] = i & 1;
    s.conns.remainingMs[i] = i === 0 ? 0xffffffff : i * 97;
  }
  for (let i = 0; i < n / 10; i++) {
    s.templates.client[i] = (0xc0a80000 + (i << 8)) >>> 0;
    s.templates.server[i] = (i * 2) % 300;
    s.templates.remainingMs[i] = i;
  }
  const bytes = encodeConnState(s);
  const keys = 32 + 2 * 2 + 13 + 6 + 300 * 3 + s.servers.reduce((a, x) => a + x.key.length, 0);
  assertEquals(bytes.length, keys + ((4 - (keys % 4)) % 4) + n * 20 + (n / 10) * 12 + 4);
  assertEquals(decodeConnState(bytes), s);
  // The same bytes at an odd offset in a larger buffer (records no longer word-aligned in memory).
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  assertEquals(decodeConnState(shifted.subarray(3)), s);
});

const DAMAGED: { description: string; input: Uint8Array; error: string }[] = [
  {
    description: "an empty file",
    input: new Uint8Array(0),
    error: "length 0 is less than header and checksum size 36",
  },
  { description: "a header cut short", input: GOLDEN.subarray(0, 20), error: "length 20 is less than" },
  { description: "a file truncated by 10 bytes", input: GOLDEN.subarray(0, GOLDEN.length - 10), error: "checksum" },
  { description: "a file missing its checksum", input: GOLDEN.subarray(0, GOLDEN.length - 4), error: "checksum" },
  {
    description: "a foreign file (text)",
    input: new TextEncoder().encode("webcache access log line, not a state file\n"),
    error: 'magic 0x63626577 is not "WCCS"',
  },
  { description: "a flipped bit in a record", input: mutate((b) => b[CONN + 3] ^= 0x10, false), error: "checksum" },
  { description: "a later version", input: mutate((_, v) => v.setUint16(AT.version, 2, true)), error: "version 2" },
  { description: "another header size", input: mutate((_, v) => v.setUint16(AT.header, 40, true)), error: "size 40" },
  {
    description: "a saved-at time that is not a number",
    input: mutate((_, v) => v.setFloat64(AT.savedAt, NaN, true)),
    error: "saved-at time NaN is not finite",
  },
  {
    description: "a connection count larger than the records",
    input: mutate((_, v) => v.setUint32(AT.conns, 2, true)),
    error: "2 connections and 1 templates need 52 bytes at offset 64, found 32",
  },
  {
    description: "a connection count of 4 billion",
    input: mutate((_, v) => v.setUint32(AT.conns, 0xffffffff, true)),
    error: "need",
  },
  { description: "a netmask of 33", input: mutate((b) => b[AT.svcNetmask] = 33), error: "netmask 33 is more than 32" },
  {
    description: "a service key that is not UTF-8",
    input: mutate((b) => b[AT.svcKey] = 0xff),
    error: "service 0 key at offset 34 is not UTF-8",
  },
  {
    description: "a service key running past the end",
    input: mutate((b) => b[AT.svcNetmask + 1] = 200),
    error: "service 0 key at offset 34 needs 200 bytes",
  },
  {
    description: "an empty server key",
    input: mutate((b) => b[AT.srvService + 2] = 0),
    error: "server 0 key at offset 50 is empty",
  },
  {
    description: "a server of a missing service",
    input: mutate((_, v) => v.setUint16(AT.srvService, 3, true)),
    error: "server 0 names service 3 of 1",
  },
  {
    description: "a connection to a missing server",
    input: mutate((_, v) => v.setUint16(CONN + 12, 1, true)),
    error: "connection 0 names server 1 of 1",
  },
  { description: "a non-zero padding byte", input: mutate((b) => b[63] = 1), error: "padding byte at offset 63" },
  {
    description: "an unknown TCP state",
    input: mutate((b) => b[CONN + 14] = 9),
    error: "connection 0 has TCP state 9",
  },
  {
    description: "a template to a missing server",
    input: mutate((_, v) => v.setUint16(CONN + 20 + 4, 7, true)),
    error: "template 0 names server 7 of 1",
  },
];

for (const c of DAMAGED) {
  Deno.test(`decodeConnState() rejects ${c.description}`, () => {
    const e = assertThrows(() => decodeConnState(c.input), ConnStateDecodeError);
    assert(e instanceof SyntaxError);
    assert(e.message.startsWith("Cannot decode connection state: "), e.message);
    assert(e.message.includes(c.error), `${e.message} does not include ${c.error}`);
  });
}

Deno.test("decodeConnState() rejects every truncation of the golden file", () => {
  for (let n = 0; n < GOLDEN.length; n++) assertThrows(() => decodeConnState(GOLDEN.subarray(0, n)), SyntaxError);
});

Deno.test("encodeConnState() rejects a key longer than 255 bytes", () => {
  const s = { ...GOLDEN_STATE, servers: [{ service: 0, key: `${"a".repeat(260)}:80` }] };
  const e = assertThrows(() => encodeConnState(s), RangeError);
  assert(e.message.includes("is 263 bytes (1-255)"), e.message);
});

Deno.test("encodeConnState() rejects a server of a missing service", () => {
  const s = { ...GOLDEN_STATE, servers: [{ service: 1, key: "10.0.0.11:80" }] };
  assertThrows(() => encodeConnState(s), RangeError);
});

Deno.test("swapWords() reverses the bytes of each word (the big-endian path) and undoes itself", () => {
  const w = Uint32Array.of(0x11223344, 0xa0b0c0d0, 0, 0xffffffff);
  swapWords(w);
  assertEquals([...w], [0x44332211, 0xd0c0b0a0, 0, 0xffffffff]);
  swapWords(w);
  assertEquals([...w], [0x11223344, 0xa0b0c0d0, 0, 0xffffffff]);
});
