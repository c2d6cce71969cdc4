import { deepStrictEqual as assertEquals, ok, strictEqual, throws } from "node:assert/strict";
import {
  blockTableBytes,
  BODY_BLOCK_BYTES,
  decodeEntryHeader,
  encodeBlockTable,
  encodeEntryHeader,
  ENTRY_FIXED_BYTES,
  entryFileBytes,
  type EntryHeader,
  entryHeaderLength,
  insanity,
  isSane,
  validatorsOf,
} from "./entry_format.ts";
import { crc32c } from "./crc32c.ts";

function header(over: Partial<EntryHeader["meta"]> = {}): EntryHeader {
  const headers: [string, string][] = over.headers ??
    [["content-type", "text/plain"], ["etag", '"v1"'], ["last-modified", "Mon, 01 Jan 2024 00:00:00 GMT"]];
  return {
    meta: {
      primary: "http://example.org/a?b=1",
      variant: "",
      status: 200,
      headers,
      vary: [],
      requestTime: 1_700_000_000_000,
      responseTime: 1_700_000_000_050,
      expiresAt: 1_700_000_360_050,
      bodyBytes: 11,
      ...over,
    },
    storedTime: 1_700_000_000_060,
    bodyCrc: 0xdeadbeef,
    ...validatorsOf(headers),
    version: 2,
  };
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

const ROUND_TRIPS: { description: string; h: EntryHeader }[] = [
  { description: "a plain 200 with validators", h: header() },
  {
    description: "a Vary'd variant with non-ASCII text",
    h: header({ variant: "accept-encoding=gzip", vary: ["accept-encoding"], primary: "http://example.org/ü" }),
  },
  { description: "no headers and an empty body", h: header({ headers: [], bodyBytes: 0, status: 204 }) },
  { description: "a body above 4 GiB", h: header({ bodyBytes: 5 * 1024 ** 3 + 7 }) },
  { description: "an object that never expires", h: header({ expiresAt: Infinity }) },
  { description: "a header value of 60 KiB", h: header({ headers: [["x-big", "v".repeat(60 * 1024)]] }) },
];

for (const c of ROUND_TRIPS) {
  Deno.test(`encodeEntryHeader() and decodeEntryHeader() round-trip ${c.description}`, () => {
    const bytes = encodeEntryHeader(c.h);
    strictEqual(entryHeaderLength(bytes), bytes.length);
    const back = decodeEntryHeader(bytes);
    assertEquals(back, c.h);
    ok(isSane(back, bytes.length, entryFileBytes(bytes.length, c.h.meta.bodyBytes)));
  });
}

Deno.test("encodeEntryHeader() writes the documented fixed fields little-endian", () => {
  const bytes = encodeEntryHeader(header({ headers: [], primary: "k", bodyBytes: 0x1_0000_0002 }));
  // magic "WCOB", version 2, status 200 (0xc8), H, body CRC, body length low/high
  strictEqual(hex(bytes.subarray(0, 8)), "57434f420200c800");
  strictEqual(new DataView(bytes.buffer).getUint32(8, true), bytes.length);
  strictEqual(hex(bytes.subarray(12, 24)), "efbeadde" + "02000000" + "01000000");
  strictEqual(bytes.length, ENTRY_FIXED_BYTES + 1 + 4);
  strictEqual(new DataView(bytes.buffer).getUint32(bytes.length - 4, true), crc32c(bytes.subarray(0, -4)));
});

Deno.test("encodeEntryHeader() keeps the length when only the body CRC and length change", () => {
  const a = encodeEntryHeader({ ...header({ bodyBytes: -1 }), bodyCrc: 0 });
  const b = encodeEntryHeader({ ...header({ bodyBytes: 123456 }), bodyCrc: 0x12345678 });
  strictEqual(a.length, b.length);
  strictEqual(decodeEntryHeader(a).meta.bodyBytes, 0);
});

Deno.test("encodeEntryHeader() rejects fields the format cannot hold", () => {
  throws(() => encodeEntryHeader(header({ status: 42 })), { name: "RangeError", message: /status 42/ });
  throws(() => encodeEntryHeader(header({ headers: [["x", "v".repeat(1024 * 1024)]] })), {
    name: "RangeError",
    message: /exceeds 1048576/,
  });
});

/** Damages a copy of a good header block. */
function damaged(f: (b: Uint8Array, dv: DataView) => Uint8Array | void): Uint8Array {
  const b = encodeEntryHeader(header()).slice();
  return f(b, new DataView(b.buffer)) ?? b;
}
/** Re-seals the header CRC after a deliberate change, to reach the checks behind it. */
function reseal(b: Uint8Array, _change?: void): Uint8Array {
  new DataView(b.buffer).setUint32(b.length - 4, crc32c(b.subarray(0, -4)), true);
  return b;
}

const DAMAGED: { description: string; input: Uint8Array; error: RegExp }[] = [
  { description: "an empty file", input: new Uint8Array(0), error: /length 0 is less than 12/ },
  { description: "a wrong magic", input: damaged((b) => void (b[0] = 0x58)), error: /bad magic 0x424f4358/ },
  {
    description: "an unknown version",
    input: damaged((_, dv) => dv.setUint16(4, 9, true)),
    error: /unsupported format version 9/,
  },
  {
    description: "a header length below the fixed part",
    input: damaged((_, dv) => dv.setUint32(8, 10, true)),
    error: /header length 10 is out of range/,
  },
  {
    description: "a truncated header block",
    input: damaged((b) => b.subarray(0, 100)),
    error: /length 100 is less than header length/,
  },
  { description: "a flipped bit in a header", input: damaged((b) => void (b[90] ^= 1)), error: /header CRC/ },
  {
    description: "a flipped bit in the stored CRC",
    input: damaged((b) => void (b[b.length - 1] ^= 0x80)),
    error: /header CRC/,
  },
  {
    description: "a key length running past the block",
    input: damaged((b, dv) => reseal(b, dv.setUint32(64, 100000, true))),
    error: /primary key runs past the header block/,
  },
  {
    description: "stray bytes after the headers",
    input: damaged((b, dv) => reseal(b, dv.setUint16(78, 2, true))),
    error: /stray bytes after the headers/,
  },
  {
    description: "invalid UTF-8 in the key",
    input: damaged((b) => reseal(b, void (b[ENTRY_FIXED_BYTES] = 0xff))),
    error: /primary key is not UTF-8/,
  },
];

for (const c of DAMAGED) {
  Deno.test(`decodeEntryHeader() rejects ${c.description}`, () => {
    throws(() => decodeEntryHeader(c.input), { name: "EntryDecodeError", message: c.error });
  });
}

const INSANE: { description: string; h: EntryHeader; fileBytes?: number; reason: RegExp }[] = [
  { description: "a file shorter than header + body", h: header(), fileBytes: 5, reason: /file has 5 bytes/ },
  { description: "a file longer than header + body", h: header(), fileBytes: 10_000, reason: /file has 10000/ },
  { description: "an infinite response time", h: header({ responseTime: Infinity }), reason: /response time/ },
  { description: "a NaN expiry", h: header({ expiresAt: NaN }), reason: /expiry is NaN/ },
  { description: "an empty primary key", h: header({ primary: "" }), reason: /primary key is empty/ },
];

for (const c of INSANE) {
  Deno.test(`isSane() refuses ${c.description}`, () => {
    const bytes = encodeEntryHeader(c.h);
    const fileBytes = c.fileBytes ?? entryFileBytes(bytes.length, c.h.meta.bodyBytes);
    strictEqual(isSane(c.h, bytes.length, fileBytes), false);
    ok(c.reason.test(insanity(c.h, bytes.length, fileBytes)!));
  });
}

Deno.test("validatorsOf() reads ETag and Last-Modified", () => {
  assertEquals(validatorsOf([["etag", 'W/"x"'], ["last-modified", "Thu, 01 Jan 1970 00:00:01 GMT"]]), {
    etag: 'W/"x"',
    lastModified: 1000,
  });
  const none = validatorsOf([]);
  strictEqual(none.etag, "");
  ok(Number.isNaN(none.lastModified));
});

Deno.test("format 2 files end with a block CRC table; format 1 files (none) are still read", () => {
  const body = 3 * BODY_BLOCK_BYTES + 5;
  strictEqual(blockTableBytes(body), 16);
  strictEqual(blockTableBytes(0), 0);
  strictEqual(blockTableBytes(BODY_BLOCK_BYTES), 4);
  strictEqual(blockTableBytes(body, 1), 0);
  const h = header({ bodyBytes: body });
  const bytes = encodeEntryHeader(h);
  ok(isSane(h, bytes.length, bytes.length + body + 16));
  ok(/\+ 16 \(block table\)/.test(insanity(h, bytes.length, bytes.length + body)!), "a file without its table");
  const v1 = bytes.slice();
  new DataView(v1.buffer).setUint16(4, 1, true);
  reseal(v1);
  const back = decodeEntryHeader(v1);
  strictEqual(back.version, 1);
  ok(isSane(back, v1.length, v1.length + body));
  strictEqual(hex(encodeBlockTable([0x11223344, 0xaabbccdd])), "44332211ddccbbaa");
});
