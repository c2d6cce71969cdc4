import assert from "node:assert/strict";
import {
  type Ban,
  BanDecodeError,
  decodeBan,
  decodeBanSet,
  encodeBan,
  encodeBanSet,
  MAX_BAN_PATTERN_BYTES,
} from "./ban_codec.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

const BAN: Ban = { id: "ab", kind: "prefix", pattern: "http://h/", timeMs: 0x0102_0304_0506, origin: "c1" };
// kind 02 | time 00000102 03040506 | id 02 "ab" | origin 02 "c1" | pattern 0009 "http://h/"
const BAN_HEX = "02 00000102 03040506 02 6162 02 6331 0009 687474703a2f2f682f";

Deno.test("encodeBan() produces the documented bytes", () => {
  assert.equal(toHex(encodeBan(BAN)), BAN_HEX.replace(/\s+/g, ""));
  assert.deepEqual(decodeBan(hex(BAN_HEX)), BAN);
});

Deno.test("decodeBan() round-trips every kind and a long pattern", () => {
  const cases: Ban[] = [
    { id: "0123456789abcdef0123456789abcdef", kind: "url", pattern: "http://a.example/x?y", timeMs: 1, origin: "" },
    { id: "x", kind: "regex", pattern: "^http://h/(a|b)\\.css$", timeMs: Date.UTC(2026, 0, 1), origin: "cache-ü" },
    { id: "y", kind: "prefix", pattern: "p".repeat(MAX_BAN_PATTERN_BYTES), timeMs: 2 ** 40, origin: "n" },
  ];
  for (const b of cases) assert.deepEqual(decodeBan(encodeBan(b)), b);
});

Deno.test("decodeBan() rejects malformed input", () => {
  const cases: { description: string; input: string; offset: number }[] = [
    { description: "truncated header", input: "02 000001", offset: 0 },
    { description: "unknown kind", input: "09 00000000 00000000 01 61 00 0000", offset: 0 },
    { description: "empty id", input: "01 00000000 00000000 00 00 0000", offset: 9 },
    { description: "truncated pattern", input: "01 00000000 00000000 01 61 00 0005 6162", offset: 14 },
    { description: "trailing bytes", input: "01 00000000 00000000 01 61 00 0000 ff", offset: 14 },
    { description: "id not UTF-8", input: "01 00000000 00000000 01 ff 00 0000", offset: 10 },
  ];
  for (const c of cases) {
    assert.throws(() => decodeBan(hex(c.input)), (e: unknown) => {
      assert.ok(e instanceof BanDecodeError, c.description);
      assert.equal(e.offset, c.offset, c.description);
      return true;
    });
  }
});

Deno.test("encodeBan() refuses fields too long for their length prefix", () => {
  assert.throws(() => encodeBan({ ...BAN, pattern: "p".repeat(MAX_BAN_PATTERN_BYTES + 1) }), RangeError);
  assert.throws(() => encodeBan({ ...BAN, id: "" }), RangeError);
  assert.throws(() => encodeBan({ ...BAN, origin: "o".repeat(256) }), RangeError);
  assert.throws(() => encodeBan({ ...BAN, timeMs: -1 }), RangeError);
});

Deno.test("encodeBanSet() produces the documented header and round-trips", () => {
  const empty = encodeBanSet({ floorMs: 7, bans: [] });
  assert.equal(toHex(empty), "5743424e" + "01" + "00000000" + "00000007" + "00000000");
  const set = { floorMs: 5, bans: [BAN, { ...BAN, id: "cd", kind: "url" as const }] };
  assert.deepEqual(decodeBanSet(encodeBanSet(set)), set);
});

Deno.test("decodeBanSet() rejects a wrong magic, version, count or length", () => {
  const good = encodeBanSet({ floorMs: 1, bans: [BAN] });
  const bad = (f: (b: Uint8Array) => Uint8Array, what: string) =>
    assert.throws(() => decodeBanSet(f(good.slice())), BanDecodeError, what);
  bad((b) => b.subarray(0, 10), "short header");
  bad((b) => (b[0] = 0, b), "magic");
  bad((b) => (b[4] = 2, b), "version");
  bad((b) => (b[16] = 2, b), "count larger than the bans present");
  bad((b) => b.subarray(0, b.length - 1), "truncated ban");
  bad((b) => Uint8Array.from([...b, 0]), "trailing byte");
  bad((b) => (b[12] = 0xff, b[13] = 0xff, b), "count over the limit");
});
