import assert from "node:assert/strict";
import {
  bansMessages,
  ClusterDecodeError,
  decodePacket,
  decodeRecord,
  encodePacket,
  encodeRecord,
  MAX_RECORD_BYTES,
  MAX_STREAM_FRAME_BYTES,
  type Message,
} from "./codec.ts";
import type { NodeRecord } from "./node.ts";

const REC: NodeRecord = {
  id: "a1",
  name: "cache-1",
  role: "cache",
  addrs: { gossip: "10.0.0.1:7946", http: "10.0.0.1:3128" },
  service: "web",
  weight: 100,
  state: "alive",
  configHash: "0123456789abcdef",
  incarnation: 7,
};

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("encodePacket() produces the documented bytes", () => {
  const cases: { description: string; msgs: Message[]; hex: string }[] = [
    { description: "ack", msgs: [{ type: "ack", seq: 0x01020304 }], hex: "0101 0005 03 01020304" },
    { description: "nack", msgs: [{ type: "nack", seq: 9 }], hex: "0101 0005 04 00000009" },
    {
      description: "ping",
      msgs: [{ type: "ping", seq: 1, target: "b", from: "a", fromAddr: "x:1" }],
      hex: "0101 000d 01 00000001 0162 0161 03783a31",
    },
    {
      description: "suspect + dead",
      msgs: [
        { type: "suspect", incarnation: 2, node: "b", from: "a" },
        { type: "dead", incarnation: 3, node: "b", from: "b" },
      ],
      hex: "0102 0009 05 00000002 0162 0161 0009 07 00000003 0162 0162",
    },
    {
      description: "announce",
      msgs: [{ type: "announce", node: "n", addr: "a:2" }],
      hex: "0101 0007 09 016e 03613a32",
    },
  ];
  for (const c of cases) {
    assert.equal(toHex(encodePacket(c.msgs)), c.hex.replace(/\s+/g, ""), c.description);
    assert.deepEqual(decodePacket(hex(c.hex)), c.msgs, c.description);
  }
});

Deno.test("decodePacket() round-trips every message type", () => {
  const msgs: Message[] = [
    { type: "ping", seq: 4294967295, target: "t", from: "f", fromAddr: "127.0.0.1:7946" },
    {
      type: "indirectPing",
      seq: 5,
      target: "t",
      targetAddr: "1.2.3.4:5",
      from: "f",
      fromAddr: "6.7.8.9:10",
      nack: true,
    },
    { type: "ack", seq: 0 },
    { type: "nack", seq: 1 },
    { type: "suspect", incarnation: 1, node: "n", from: "f" },
    { type: "alive", record: REC },
    { type: "dead", incarnation: 9, node: "n", from: "n" },
    { type: "pushPull", join: true, entries: [{ state: "alive", record: REC }, { state: "left", record: REC }] },
    { type: "announce", node: "n", addr: "[::1]:7946" },
    { type: "configRequest" },
    { type: "config", version: 1_764_160_000_123, hash: "0123456789abcdef", text: "cluster:\n  name: x # ü\n" },
    { type: "streamOpen", frameBytes: 8 * 1024 * 1024 },
  ];
  assert.deepEqual(decodePacket(encodePacket(msgs), 1 << 20), msgs);
});

Deno.test("decodePacket() rejects truncated, oversized and garbled input with a reason", () => {
  const ok = toHex(encodePacket([{ type: "ping", seq: 1, target: "b", from: "a", fromAddr: "x:1" }]));
  const cases: { description: string; input: string; reason: string }[] = [
    { description: "empty", input: "", reason: "short" },
    { description: "one byte", input: "01", reason: "short" },
    { description: "other version", input: "0201000503000000", reason: "version" },
    { description: "zero messages", input: "0100", reason: "garbled" },
    { description: "missing length", input: "0101", reason: "short" },
    { description: "length beyond end", input: "01010009030000", reason: "short" },
    { description: "empty message", input: "01010000", reason: "garbled" },
    { description: "unknown type", input: "0101000163", reason: "type" },
    { description: "type 0", input: "0101000100", reason: "type" },
    { description: "streamOpen without its length", input: "0101 0003 0f 0000", reason: "short" },
    { description: "truncated ping", input: ok.slice(0, ok.length - 2), reason: "short" },
    { description: "ack with trailing byte in message", input: "0101000603000000 0100", reason: "garbled" },
    { description: "trailing bytes after messages", input: "0101000503000000 01ff", reason: "garbled" },
    { description: "bad nack flag", input: "0101 000e 02 00000001 0162 0103 0161 0163 02", reason: "garbled" },
    { description: "invalid UTF-8 string", input: "0101 0005 09 01ff 0161", reason: "garbled" },
    { description: "alive with JSON garbage", input: "0101 0006 06 0003 7b7b7b", reason: "garbled" },
    { description: "alive with a JSON array", input: "0101 0005 06 0002 5b5d", reason: "garbled" },
    { description: "push-pull with unknown state", input: "0101 0005 08 00 0001 09", reason: "garbled" },
    { description: "push-pull count beyond data", input: "0101 0004 08 00 0005", reason: "short" },
    {
      description: "config text beyond data",
      input: "0101 000f 0b 00000000 00000001 0161 00000010 41",
      reason: "short",
    },
    { description: "config request with a body", input: "0101 0002 0a 00", reason: "garbled" },
  ];
  for (const c of cases) {
    assert.throws(() => decodePacket(hex(c.input)), (e: unknown) => {
      assert.ok(e instanceof ClusterDecodeError, `${c.description}: ${e}`);
      assert.ok(e instanceof SyntaxError);
      assert.equal(e.reason, c.reason, `${c.description}: ${e.message}`);
      return true;
    }, c.description);
  }
  assert.throws(() => decodePacket(new Uint8Array(70_000)), /exceed 65507/);
});

Deno.test("decodePacket() never throws anything but ClusterDecodeError on random bytes", () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const valid = encodePacket([{ type: "alive", record: REC }, { type: "ack", seq: 3 }]);
  for (let i = 0; i < 3000; i++) {
    const b = i % 2
      ? Uint8Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256))
      : valid.slice();
    if (i % 2 === 0) { for (let k = 0; k < 3; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256); }
    try {
      decodePacket(b);
    } catch (e) {
      assert.ok(e instanceof ClusterDecodeError, `input ${toHex(b)} threw ${e}`);
    }
  }
});

Deno.test("decodeRecord() validates each field", () => {
  const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  const cases: { description: string; record: unknown; error: RegExp }[] = [
    { description: "no id", record: { ...REC, id: undefined }, error: /id is missing/ },
    { description: "bad role", record: { ...REC, role: "router" }, error: /role "router"/ },
    { description: "bad state", record: { ...REC, state: "zombie" }, error: /state "zombie"/ },
    { description: "negative weight", record: { ...REC, weight: -1 }, error: /weight/ },
    { description: "float incarnation", record: { ...REC, incarnation: 1.5 }, error: /incarnation/ },
    { description: "no gossip address", record: { ...REC, addrs: {} }, error: /addrs.gossip/ },
    { description: "numeric service", record: { ...REC, service: 5 }, error: /service/ },
    {
      description: "numeric tunnel address",
      record: { ...REC, addrs: { ...REC.addrs, tunnel: 167772162 } },
      error: /addrs.tunnel/,
    },
    { description: "bad forwarding", record: { ...REC, forwarding: "nat" }, error: /forwarding/ },
    { description: "negative configVersion", record: { ...REC, configVersion: -1 }, error: /configVersion/ },
    { description: "string configVersion", record: { ...REC, configVersion: "3" }, error: /configVersion/ },
    {
      description: "configRefused without a reason",
      record: { ...REC, configRefused: { version: 2, hash: "ab" } },
      error: /configRefused/,
    },
    {
      description: "configRefused with an overlong reason",
      record: { ...REC, configRefused: { version: 2, hash: "ab", reason: "x".repeat(201) } },
      error: /configRefused/,
    },
  ];
  for (const c of cases) assert.throws(() => decodeRecord(enc(c.record)), c.error, c.description);
  assert.deepEqual(decodeRecord(encodeRecord(REC)), REC);
  const director: NodeRecord = { ...REC, role: "director", addrs: { gossip: "10.0.0.2:7946", tunnel: "10.0.0.2" } };
  assert.deepEqual(decodeRecord(encodeRecord(director)), director);
  const refusing: NodeRecord = {
    ...REC,
    configVersion: 3,
    configRefused: { version: 4, hash: "0123456789abcdef", reason: "director.ha.mode: needs director.vipMode arp" },
  };
  assert.deepEqual(decodeRecord(encodeRecord(refusing)), refusing);
});

Deno.test("encodeRecord() refuses a record larger than MAX_RECORD_BYTES", () => {
  assert.throws(() => encodeRecord({ ...REC, name: "x".repeat(MAX_RECORD_BYTES) }), RangeError);
  assert.throws(
    () => decodeRecord(new Uint8Array(MAX_RECORD_BYTES + 1)),
    (e: unknown) => e instanceof ClusterDecodeError && e.reason === "oversized",
  );
});

Deno.test("purge, purgeAck and bans messages round-trip; bansMessages() splits a long list", () => {
  const ban = { id: "b1", kind: "regex" as const, pattern: "\\.css$", timeMs: 1_700_000_000_000, origin: "cache-1" };
  const msgs: Message[] = [
    { type: "purge", ban },
    { type: "purgeAck", id: "b1", deleted: 3 },
    { type: "bans", floorMs: 12, bans: [ban, { ...ban, id: "b2", kind: "url", pattern: "http://h/a" }] },
  ];
  assert.deepEqual(decodePacket(encodePacket(msgs)), msgs);
  // purgeAck: type 13 | id str8 | deleted u32
  assert.equal(
    toHex(encodePacket([{ type: "purgeAck", id: "x", deleted: 2 }])),
    "01010007" + "0d" + "0178" + "00000002",
  );
  const many = Array.from({ length: 3000 }, (_, i) => ({ ...ban, id: `id${i}`, pattern: "p".repeat(40) }));
  const parts = bansMessages(5, many);
  assert.ok(parts.length > 1);
  assert.deepEqual(parts.flatMap((p) => p.bans), many);
  assert.ok(parts.every((p) => p.floorMs === 5));
  const decoded = decodePacket(encodePacket(parts), MAX_STREAM_FRAME_BYTES);
  assert.deepEqual(decoded, parts);
  assert.deepEqual(bansMessages(0, []), [{ type: "bans", floorMs: 0, bans: [] }]);
});

Deno.test("decodePacket() drops a purge whose ban is malformed as garbled", () => {
  // purge with a ban of kind 9
  const bad = hex("0101 0011 0c 000e 09 00000000 00000000 0161 00 0000");
  assert.throws(() => decodePacket(bad), (e: unknown) => e instanceof ClusterDecodeError && e.reason === "garbled");
});
