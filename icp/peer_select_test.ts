import assert from "node:assert/strict";
import { adaptiveTimeoutMs, type IcpDecision, IcpReplyTally, type PeerType, smoothRttMs } from "./peer_select.ts";
import { IcpOpcode } from "./opcode.ts";

const cases: {
  description: string;
  expected: number;
  answers: [string, PeerType, number][];
  decisions: (IcpDecision<string> | undefined)[];
  final: IcpDecision<string>;
}[] = [
  {
    description: "the first HIT wins at once",
    expected: 3,
    answers: [["s1", "sibling", IcpOpcode.MISS], ["s2", "sibling", IcpOpcode.HIT], ["p1", "parent", IcpOpcode.HIT]],
    decisions: [undefined, { kind: "hit", peer: "s2" }, undefined],
    final: { kind: "hit", peer: "s2" },
  },
  {
    description: "all MISS with a parent picks the parent that answered first",
    expected: 3,
    answers: [["s1", "sibling", IcpOpcode.MISS], ["p2", "parent", IcpOpcode.MISS], ["p1", "parent", IcpOpcode.MISS]],
    decisions: [undefined, undefined, { kind: "parent", peer: "p2" }],
    final: { kind: "parent", peer: "p2" },
  },
  {
    description: "all MISS from siblings means the origin",
    expected: 2,
    answers: [["s1", "sibling", IcpOpcode.MISS], ["s2", "sibling", IcpOpcode.MISS]],
    decisions: [undefined, { kind: "none" }],
    final: { kind: "none" },
  },
  {
    description: "MISS_NOFETCH, DENIED and ERR from parents never select them",
    expected: 3,
    answers: [["p1", "parent", IcpOpcode.MISS_NOFETCH], ["p2", "parent", IcpOpcode.DENIED], [
      "p3",
      "parent",
      IcpOpcode.ERR,
    ]],
    decisions: [undefined, undefined, { kind: "none" }],
    final: { kind: "none" },
  },
  {
    description: "a DECHO from a parent counts as its MISS",
    expected: 1,
    answers: [["p1", "parent", IcpOpcode.DECHO]],
    decisions: [{ kind: "parent", peer: "p1" }],
    final: { kind: "parent", peer: "p1" },
  },
  {
    description: "a timeout after a parent MISS picks that parent",
    expected: 3,
    answers: [["p1", "parent", IcpOpcode.MISS]],
    decisions: [undefined],
    final: { kind: "parent", peer: "p1" },
  },
];

for (const c of cases) {
  Deno.test(`IcpReplyTally: ${c.description}`, () => {
    const t = new IcpReplyTally<string>(c.expected);
    assert.deepEqual(c.answers.map(([p, type, op]) => t.add(p, type, op)), c.decisions);
    assert.deepEqual(t.finish(), c.final);
  });
}

Deno.test("adaptiveTimeoutMs() is twice the mean RTT within the bounds", () => {
  const b = { minMs: 5, maxMs: 2000 };
  assert.equal(adaptiveTimeoutMs([], b), 2000);
  assert.equal(adaptiveTimeoutMs([1, 3], b), 5);
  assert.equal(adaptiveTimeoutMs([10, 30], b), 40);
  assert.equal(adaptiveTimeoutMs([1500, 1500], b), 2000);
});

Deno.test("smoothRttMs() moves 1/8 of the way to each sample", () => {
  assert.equal(smoothRttMs(undefined, 8), 8);
  assert.equal(smoothRttMs(8, 16), 9);
  assert.equal(smoothRttMs(8, 0), 7);
});
