import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { decodeProxyHeader, encodeProxyV2, PROXY_V2_SIGNATURE } from "./proxy_protocol.ts";

function throwsNamed<E extends Error>(name: string, fn: () => unknown, Cls: new (...a: never[]) => E): E {
  try {
    return assertThrows(fn, Cls);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}

const hex = (s: string) => new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16)));
const txt = (s: string) => new TextEncoder().encode(s);

Deno.test("decodeProxyHeader() decodes v1 and v2 headers", () => {
  const table: { name: string; input: Uint8Array; consumed: number; src?: string; dst?: string; command: string }[] = [
    {
      name: "v1 TCP4",
      input: txt("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET"),
      consumed: 45,
      src: "192.0.2.1:56324",
      dst: "198.51.100.2:443",
      command: "proxy",
    },
    {
      name: "v1 TCP6",
      input: txt("PROXY TCP6 2001:db8::1 2001:db8::2 1000 80\r\n"),
      consumed: 44,
      src: "2001:db8::1:1000",
      dst: "2001:db8::2:80",
      command: "proxy",
    },
    { name: "v1 UNKNOWN", input: txt("PROXY UNKNOWN\r\n"), consumed: 15, command: "local" },
    {
      name: "v2 PROXY TCP4",
      input: hex("0d0a0d0a000d0a515549540a 21 11 000c c0000201 c6336402 dc04 01bb ff"),
      consumed: 28,
      src: "192.0.2.1:56324",
      dst: "198.51.100.2:443",
      command: "proxy",
    },
    {
      name: "v2 LOCAL with TLV",
      input: hex("0d0a0d0a000d0a515549540a 20 00 0003 010001"),
      consumed: 19,
      command: "local",
    },
    {
      name: "v2 TCP6",
      input: hex(
        "0d0a0d0a000d0a515549540a 21 21 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 1000 0050",
      ),
      consumed: 52,
      src: "2001:db8::1:4096",
      dst: "2001:db8::2:80",
      command: "proxy",
    },
  ];
  for (const row of table) {
    const r = decodeProxyHeader(row.input)!;
    assertEquals(r.consumed, row.consumed, row.name);
    assertEquals(r.header.command, row.command, row.name);
    if (row.src) assertEquals(`${r.header.source!.hostname}:${r.header.source!.port}`, row.src, row.name);
    if (row.dst) assertEquals(`${r.header.destination!.hostname}:${r.header.destination!.port}`, row.dst, row.name);
  }
});

Deno.test("decodeProxyHeader() asks for more bytes on a truncated header", () => {
  assertEquals(decodeProxyHeader(txt("PROXY TCP4 1.2.3.4")), undefined);
  assertEquals(decodeProxyHeader(PROXY_V2_SIGNATURE.subarray(0, 7)), undefined);
  assertEquals(decodeProxyHeader(hex("0d0a0d0a000d0a515549540a 21 11 000c c000")), undefined);
});

Deno.test("decodeProxyHeader() rejects bad headers", () => {
  const table = [
    { name: "plain HTTP", input: txt("GET / HTTP/1.1\r\n") },
    { name: "bad v1 protocol", input: txt("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n") },
    { name: "bad v1 port", input: txt("PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n") },
    { name: "v1 too long", input: txt("PROXY TCP4 " + "1".repeat(120)) },
    { name: "v2 bad version", input: hex("0d0a0d0a000d0a515549540a 11 11 000c c0000201c6336402dc0401bb") },
    { name: "v2 short address block", input: hex("0d0a0d0a000d0a515549540a 21 11 0004 c0000201") },
    { name: "v2 bad signature", input: hex("0d0a0d0a000d0a515549540b 21 11 0000") },
  ];
  for (const row of table) throwsNamed(row.name, () => decodeProxyHeader(row.input), SyntaxError);
});

Deno.test("encodeProxyV2() output decodes to the same addresses", () => {
  const bytes = encodeProxyV2({ srcAddr: "10.1.2.3", srcPort: 1234, dstAddr: "10.0.0.1", dstPort: 80 });
  const r = decodeProxyHeader(bytes)!;
  assertEquals(r.consumed, 28);
  assertEquals(r.header.source, { hostname: "10.1.2.3", port: 1234 });
  assertEquals(r.header.destination, { hostname: "10.0.0.1", port: 80 });
  assertThrows(() => encodeProxyV2({ srcAddr: "host", srcPort: 1, dstAddr: "10.0.0.1", dstPort: 80 }), TypeError);
});
