import assert from "node:assert/strict";
import {
  decodeHaMessage,
  encodeHeartbeat,
  encodeResync,
  encodeSync,
  HaDecodeError,
  type HaMessage,
} from "./message.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)));

// Written out field by field from the diagram in message.ts.
const HEARTBEAT_HEX =
  "57434841 01 01 0000 0000019af232b200 00000007 02 03 6431 776562 64 02 0064 00000003 0000019af232b200 0000002a";
/** A heartbeat of a sender without sync sequences (8-byte body). */
const HEARTBEAT_V1_HEX = "57434841 01 01 0000 0000019af232b200 00000007 02 03 6431 776562 64 02 0064 00000003";
const SYNC_HEX = "57434841 01 02 0003 0000019af232b200 00000008 02 03 6431 776562 dead";
const SYNC_SEQ_HEX = "57434841 01 03 0007 0000019af232b200 00000009 02 03 6431 776562 0000002b dead";
const RESYNC_HEX =
  "57434841 01 04 0000 0000019af232b201 0000000a 02 03 6432 776562 01 02 0000 0000019af232b200 00000029 6431";

const golden: { description: string; hex: string; value: HaMessage }[] = [
  {
    description: "MASTER heartbeat, priority 100, 100 ms, 3 entries",
    hex: HEARTBEAT_HEX,
    value: {
      type: "heartbeat",
      epoch: 1765000000000,
      sequence: 7,
      nodeId: "d1",
      group: "web",
      priority: 100,
      role: "MASTER",
      advertIntervalMs: 100,
      entries: 3,
      syncEpoch: 1765000000000,
      syncSeq: 42,
    },
  },
  {
    description: "sync, last part of a full table",
    hex: SYNC_HEX,
    value: {
      type: "sync",
      epoch: 1765000000000,
      sequence: 8,
      nodeId: "d1",
      group: "web",
      flags: 3,
      payload: new Uint8Array([0xde, 0xad]),
    },
  },
  {
    description: "sequenced sync 43, a one-part full table (first and last)",
    hex: SYNC_SEQ_HEX,
    value: {
      type: "sync",
      epoch: 1765000000000,
      sequence: 9,
      nodeId: "d1",
      group: "web",
      flags: 7,
      syncSeq: 43,
      payload: new Uint8Array([0xde, 0xad]),
    },
  },
  {
    description: "d2 asks d1 for its table: batch 41 of d1's epoch is missing",
    hex: RESYNC_HEX,
    value: {
      type: "resync",
      epoch: 1765000000001,
      sequence: 10,
      nodeId: "d2",
      group: "web",
      reason: "gap",
      target: "d1",
      targetEpoch: 1765000000000,
      missingUpTo: 41,
    },
  },
];

function encode(m: HaMessage): Uint8Array {
  if (m.type === "heartbeat") return encodeHeartbeat(m);
  return m.type === "sync" ? encodeSync(m) : encodeResync(m);
}

Deno.test("HA codec: golden messages encode and decode", () => {
  for (const g of golden) {
    assert.equal(hex(encode(g.value)), g.hex.replace(/\s+/g, ""), g.description);
    assert.deepEqual(decodeHaMessage(unhex(g.hex)), g.value, g.description);
  }
});

Deno.test("decodeHaMessage() reads an older sender's 8-byte heartbeat as having no sync stream", () => {
  const m = decodeHaMessage(unhex(HEARTBEAT_V1_HEX));
  assert.equal(m.type, "heartbeat");
  assert.deepEqual(m, { ...golden[0].value, syncEpoch: 0, syncSeq: 0 });
});

Deno.test("A version-1 reader's view: a new heartbeat starts with the old 8-byte body", () => {
  // Older decoders check only that 8 body bytes are there and ignore what follows.
  assert.ok(HEARTBEAT_HEX.replace(/\s+/g, "").startsWith(HEARTBEAT_V1_HEX.replace(/\s+/g, "")));
});

Deno.test("decodeHaMessage() rejects malformed datagrams with a reason", () => {
  const cases: { description: string; hex: string; reason: string }[] = [
    { description: "shorter than the fixed header", hex: "57434841 01 01 0000", reason: "short" },
    { description: "gossip or other protocol", hex: HEARTBEAT_HEX.replace("57434841", "57434842"), reason: "magic" },
    { description: "version 2", hex: HEARTBEAT_HEX.replace("57434841 01", "57434841 02"), reason: "version" },
    { description: "type 9", hex: HEARTBEAT_HEX.replace("57434841 01 01", "57434841 01 09"), reason: "type" },
    {
      description: "node id past the end",
      hex: "57434841 01 01 0000 0000019af232b200 00000007 ff 03 6431",
      reason: "short",
    },
    { description: "heartbeat body cut", hex: HEARTBEAT_V1_HEX.slice(0, -12), reason: "short" },
    { description: "role 7", hex: HEARTBEAT_HEX.replace("64 02 0064", "64 07 0064"), reason: "role" },
    { description: "sequenced sync without its sequence", hex: SYNC_SEQ_HEX.slice(0, -14), reason: "short" },
    { description: "resync request cut in its body", hex: RESYNC_HEX.slice(0, -30), reason: "short" },
    { description: "resync target past the end", hex: RESYNC_HEX.slice(0, -2), reason: "short" },
    { description: "resync reason 0", hex: RESYNC_HEX.replace("776562 01 02", "776562 00 02"), reason: "reason" },
    { description: "type 5 (not yet assigned)", hex: RESYNC_HEX.replace("01 04 0000", "01 05 0000"), reason: "type" },
  ];
  for (const c of cases) {
    assert.throws(() => decodeHaMessage(unhex(c.hex)), (e: unknown) => {
      assert.ok(e instanceof HaDecodeError, c.description);
      assert.equal(e.reason, c.reason, c.description);
      return true;
    });
  }
});

Deno.test("encodeHeartbeat() refuses out-of-range fields", () => {
  const m = {
    epoch: 1,
    sequence: 1,
    nodeId: "d1",
    group: "g",
    priority: 300,
    role: "BACKUP" as const,
    advertIntervalMs: 100,
    entries: 0,
    syncEpoch: 0,
    syncSeq: 0,
  };
  assert.throws(() => encodeHeartbeat(m), RangeError);
  assert.throws(() => encodeHeartbeat({ ...m, priority: 1, nodeId: "x".repeat(256) }), RangeError);
});
