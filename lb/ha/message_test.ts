import assert from "node:assert/strict";
import { decodeHaMessage, encodeHeartbeat, encodeSync, HaDecodeError, type HaMessage } from "./message.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)));

// Written out field by field from the diagram in message.ts.
const HEARTBEAT_HEX = "57434841 01 01 0000 0000019af232b200 00000007 02 03 6431 776562 64 02 0064 00000003";
const SYNC_HEX = "57434841 01 02 0003 0000019af232b200 00000008 02 03 6431 776562 dead";

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
];

Deno.test("HA codec: golden messages encode and decode", () => {
  for (const g of golden) {
    const bytes = g.value.type === "heartbeat" ? encodeHeartbeat(g.value) : encodeSync(g.value);
    assert.equal(hex(bytes), g.hex.replace(/\s+/g, ""), g.description);
    assert.deepEqual(decodeHaMessage(unhex(g.hex)), g.value, g.description);
  }
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
    { description: "heartbeat body cut", hex: HEARTBEAT_HEX.slice(0, -12), reason: "short" },
    { description: "role 7", hex: HEARTBEAT_HEX.replace("64 02 0064", "64 07 0064"), reason: "role" },
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
  };
  assert.throws(() => encodeHeartbeat(m), RangeError);
  assert.throws(() => encodeHeartbeat({ ...m, priority: 1, nodeId: "x".repeat(256) }), RangeError);
});
