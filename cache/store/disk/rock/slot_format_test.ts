import { deepStrictEqual as assertEquals, ok, strictEqual, throws } from "node:assert/strict";
import {
  decodeRecord,
  decodeRockFileHeader,
  decodeSlotHeader,
  directoryBytes,
  encodeRecord,
  encodeRockFileHeader,
  encodeSlotHeader,
  FILE_HEADER_BYTES,
  keyHash64,
  rockFileBytes,
  RockFormatError,
  rockGeometry,
  rockKeyHash,
  setOf,
  type SlotHeader,
  slotHeaderOffset,
  slotMayHold,
  slotMayHoldPrimary,
  slotOffset,
  tableOffset,
  ufsMarker,
} from "./slot_format.ts";
import type { StoredMeta } from "../../store.ts";
import { crc32c } from "../crc32c.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array(s.match(/../g)!.map((x) => parseInt(x, 16)));

const SLOT: SlotHeader = {
  phLo: 0x04030201,
  phHi: 0x08070605,
  vh: 0x0c0b0a09,
  recordBytes: 0x400,
  bodyBytes: 0x100,
  recordCrc: 0xdeadbeef,
  storedTime: 1_700_000_000_000,
  expiresAt: Infinity,
  requestTime: 1_699_999_999_990,
  inUfs: false,
};
// Made by encodeSlotHeader(SLOT) and checked field by field against the diagram in slot_format.ts:
// "WCSL", version 2, flags 0, hashes little-endian, R 0x400, body 0x100, CRC, three f64 times, zero, header CRC.
const SLOT_HEX = "5743534c02000000" + "0102030405060708" + "090a0b0c00040000" + "00010000efbeadde" +
  "00008056febc7842" + "000000000000f07f" + "00607f56febc7842" + "00000000779ebe69";
// The same header as an "in ufs" marker: flags byte 1, another header CRC.
const MARKER_HEX = "5743534c02010000" + "0102030405060708" + "090a0b0c00040000" + "00010000efbeadde" +
  "00008056febc7842" + "000000000000f07f" + "00607f56febc7842" + "00000000ab1d4db3";

const FILE = { slotBytes: 16384, ways: 8, sets: 7, generation: "00112233445566778899aabbccddeeff", created: 1.7e12 };
// encodeRockFileHeader(FILE), first 64 bytes: "WCRF", version 2, 16384, 8, 7, 0, generation, created, 0, CRC.
const FILE_HEX = "5743524602000000" + "0040000008000000" + "0700000000000000" + "00112233445566778899aabbccddeeff" +
  "00008056febc7842" + "0000000000000000" + "00000000c37dd86b";

Deno.test("encodeSlotHeader() writes the golden slot header", () => {
  const out = new Uint8Array(64);
  encodeSlotHeader(SLOT, out);
  strictEqual(hex(out), SLOT_HEX);
  assertEquals(decodeSlotHeader(unhex(SLOT_HEX)), SLOT);
  encodeSlotHeader({ ...SLOT, inUfs: true }, out);
  strictEqual(hex(out), MARKER_HEX);
  assertEquals(decodeSlotHeader(unhex(MARKER_HEX)), { ...SLOT, inUfs: true });
});

Deno.test("ufsMarker() is a header without record, flagged in ufs", () => {
  const h = ufsMarker({ phLo: 1, phHi: 2, vh: 3 }, 10, { expiresAt: 20, requestTime: 5 });
  assertEquals(h, {
    phLo: 1,
    phHi: 2,
    vh: 3,
    recordBytes: 0,
    bodyBytes: 0,
    recordCrc: 0,
    storedTime: 10,
    expiresAt: 20,
    requestTime: 5,
    inUfs: true,
  });
  const out = new Uint8Array(64);
  encodeSlotHeader(h, out);
  assertEquals(decodeSlotHeader(out), h);
});

/** The golden slot header with byte `at` set to `value`. */
function patched(at: number, value: number): Uint8Array {
  const b = unhex(SLOT_HEX);
  b[at] = value;
  return b;
}

Deno.test("decodeSlotHeader() reads an empty, torn or foreign header as nothing", () => {
  const table: { description: string; bytes: Uint8Array }[] = [
    { description: "all zero (empty way)", bytes: new Uint8Array(64) },
    { description: "one flipped body bit", bytes: patched(20, 0x04) },
    { description: "bad magic", bytes: patched(0, 0) },
    { description: "version 1", bytes: patched(4, 1) },
    { description: "version 3", bytes: patched(4, 3) },
    { description: "truncated", bytes: unhex(SLOT_HEX).subarray(0, 63) },
  ];
  for (const c of table) strictEqual(decodeSlotHeader(c.bytes), undefined, c.description);
});

Deno.test("slotMayHold() and slotMayHoldPrimary() compare magic and hashes", () => {
  const t = unhex("00".repeat(64) + SLOT_HEX);
  ok(slotMayHold(t, 64, SLOT));
  ok(!slotMayHold(t, 0, SLOT));
  ok(!slotMayHold(t, 64, { ...SLOT, vh: 1 }));
  ok(slotMayHoldPrimary(t, 64, { phLo: SLOT.phLo, phHi: SLOT.phHi }));
  ok(!slotMayHoldPrimary(t, 64, { phLo: SLOT.phLo, phHi: 0 }));
});

Deno.test("encodeRockFileHeader() writes the golden file header", () => {
  const b = encodeRockFileHeader(FILE);
  strictEqual(b.length, FILE_HEADER_BYTES);
  strictEqual(hex(b.subarray(0, 64)), FILE_HEX);
  assertEquals(decodeRockFileHeader(b), FILE);
});

Deno.test("decodeRockFileHeader() rejects what is not a rock file header", () => {
  const table: { description: string; bytes: Uint8Array; error: RegExp }[] = [
    { description: "short", bytes: unhex(FILE_HEX).subarray(0, 40), error: /length 40 < 64/ },
    { description: "bad magic", bytes: unhex("00" + FILE_HEX.slice(2)), error: /bad magic/ },
    { description: "flipped bit", bytes: unhex(FILE_HEX.slice(0, 20) + "41" + FILE_HEX.slice(22)), error: /checksum/ },
    { description: "empty (sparse) file", bytes: new Uint8Array(64), error: /bad magic 0x00000000/ },
  ];
  for (const c of table) throws(() => decodeRockFileHeader(c.bytes), c.error, c.description);
});

Deno.test("rockGeometry() fits whole sets; the directory comes first, then the slots", () => {
  const g = rockGeometry(1024 * 1024, { slotBytes: 16384, ways: 8 });
  // (1 MiB - 4096 - 4096) / (8 × (64 + 16384)) = 7.9 -> 7 sets
  assertEquals(g, { slotBytes: 16384, ways: 8, sets: 7 });
  strictEqual(directoryBytes(g), 4096); // 7 × 8 × 64 = 3584, padded to a page
  strictEqual(tableOffset(g, 0), 4096);
  strictEqual(tableOffset(g, 1), 4096 + 512);
  strictEqual(slotHeaderOffset(g, 1, 2), 4096 + 512 + 128);
  strictEqual(slotOffset(g, 0, 0), 8192);
  strictEqual(slotOffset(g, 1, 2), 8192 + 10 * 16384);
  strictEqual(rockFileBytes(g), 8192 + 56 * 16384);
  ok(rockFileBytes(g) <= 1024 * 1024);
  strictEqual(setOf(g, { phHi: 15 }), 1);
  // 2 GiB of 16 KiB slots: a directory of 8 MiB (1/256).
  const big = rockGeometry(2 ** 31, { slotBytes: 16384, ways: 8 });
  strictEqual(directoryBytes(big), Math.ceil(big.sets * 8 * 64 / 4096) * 4096);
  ok(directoryBytes(big) <= 8.1 * 2 ** 20 && rockFileBytes(big) <= 2 ** 31);
  throws(() => rockGeometry(64 * 1024, { slotBytes: 16384, ways: 8 }), RangeError);
  throws(() => rockGeometry(1 << 30, { slotBytes: 512, ways: 8 }), RangeError);
  throws(() => rockGeometry(1 << 30, { slotBytes: 4096, ways: 65 }), RangeError);
});

Deno.test('rockKeyHash() is keyHash64 of the keys (golden values), variant "" hashing to 0', () => {
  assertEquals(rockKeyHash("http://x/a", "gzip"), { phLo: 0x40fb697a, phHi: 0xb3cae58d, vh: 0xa535a710 });
  strictEqual(rockKeyHash("http://x/a", "").vh, 0);
  strictEqual(keyHash64("a")[0], 0x82c97901);
  ok(keyHash64("a", 1)[0] !== 0x82c97901, "the seed changes the hash");
  // Spread: 20,000 URLs differing in one digit fall in distinct 64-bit hashes and evenly in 8 sets.
  const seen = new Set<string>();
  const perSet = new Array(8).fill(0);
  for (let i = 0; i < 20_000; i++) {
    const h = rockKeyHash(`http://127.0.0.1/obj/miss-${i}`, "");
    seen.add(`${h.phHi}:${h.phLo}`);
    perSet[h.phHi % 8]++;
  }
  strictEqual(seen.size, 20_000);
  for (const n of perSet) ok(n > 2_200 && n < 2_800, `per set ${perSet}`);
});

function meta(over: Partial<StoredMeta> = {}): StoredMeta {
  return {
    primary: "http://x/a",
    variant: "",
    status: 200,
    headers: [["content-type", "text/plain"], ["etag", '"1"']],
    vary: [],
    requestTime: 1_700_000_000_000,
    responseTime: 1_700_000_000_010,
    expiresAt: 1_700_000_360_000,
    bodyBytes: 5,
    ...over,
  };
}

Deno.test("encodeRecord() and decodeRecord() round-trip an object and its slot header", () => {
  const body = new TextEncoder().encode("hello");
  const key = rockKeyHash("http://x/a", "");
  const { record, header } = encodeRecord(meta(), body, 1_700_000_000_020, key);
  strictEqual(header.recordBytes, record.length);
  strictEqual(header.bodyBytes, 5);
  strictEqual(header.expiresAt, 1_700_000_360_000);
  const r = decodeRecord(record, header);
  assertEquals(r.entry.meta, meta());
  strictEqual(r.entry.storedTime, 1_700_000_000_020);
  strictEqual(r.entry.etag, '"1"');
  assertEquals(r.body, body);
});

Deno.test("decodeRecord() rejects a torn, short or mismatched record", () => {
  const body = new Uint8Array(300).fill(7);
  const { record, header } = encodeRecord(meta({ bodyBytes: 300 }), body, 1, rockKeyHash("http://x/a", ""));
  const torn = record.slice();
  torn[torn.length - 1] ^= 0xff; // the tail of the body from another writer
  throws(() => decodeRecord(torn, header), /checksum mismatch/);
  throws(() => decodeRecord(record.subarray(0, 100), header), /read 100 of/);
  // A header of another object of the same length (a concurrent rewrite of the way).
  const other = encodeRecord(meta({ bodyBytes: 300 }), new Uint8Array(300).fill(8), 1, rockKeyHash("http://x/a", ""));
  throws(() => decodeRecord(record, other.header), RockFormatError);
});

Deno.test("encodeRecord() writes the same record from chunks into a reused buffer, its CRC over every byte", () => {
  const body = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) & 0xff);
  const key = rockKeyHash("http://x/a", "");
  const m = meta({ bodyBytes: 3000 });
  const whole = encodeRecord(m, body, 42, key);
  // The record CRC is combined from the entry header's and the body's, not computed over the
  // record: it must still be the CRC of the record's bytes, as version-2 readers check it.
  strictEqual(whole.header.recordCrc, crc32c(whole.record));
  const into = new Uint8Array(16 * 1024).fill(0xee);
  const chunked = encodeRecord(m, [body.subarray(0, 1), body.subarray(1, 1500), body.subarray(1500)], 42, key, into);
  strictEqual(chunked.record.buffer, into.buffer);
  assertEquals(chunked.record, whole.record);
  assertEquals(chunked.header, whole.header);
  assertEquals(decodeRecord(chunked.record, chunked.header).body, body);
  // A buffer too small for the record is not used.
  const small = encodeRecord(m, body, 42, key, new Uint8Array(100));
  assertEquals(small.record, whole.record);
});
