import assert from "node:assert/strict";
import { SimCluster } from "./sim/sim_cluster.ts";
import type { SwimOptions } from "./swim.ts";

const FAST: SwimOptions = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  indirectProbes: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 50,
  gossipNodes: 3,
  pushPullIntervalMs: 2000,
  deadReclaimMs: 30_000,
};

Deno.test("Swim: nodes joining one seed converge to a full member list", () => {
  const c = new SimCluster({ n: 8, loss: 0, swim: FAST });
  try {
    const ms = c.joinAll(10_000);
    assert(c.converged((s) => s === "alive"), "not converged");
    assert(ms < 5_000, `took ${ms} ms`);
  } finally {
    c.stop();
  }
});

Deno.test("Swim: every node marks a killed node dead within the suspicion bound", () => {
  const c = new SimCluster({ n: 8, loss: 0, swim: FAST });
  try {
    c.joinAll();
    c.clock.advance(2000);
    const victim = c.kill(3);
    // Bound: one probe round to notice + the longest suspicion (max mult × min) + gossip.
    const minMs = 4 * Math.log10(8) > 4 ? 4 * Math.log10(8) * 200 : 4 * 200;
    const bound = 8 * 200 + 6 * minMs + 1000;
    const ms = c.runUntilDead(victim, bound);
    assert(ms !== undefined, `not every node marked the victim dead within ${bound} ms`);
    assert.deepEqual(c.falseDeaths, 0);
    for (const n of c.nodes) if (n.alive) assert.equal(n.swim.numAlive(), 7);
  } finally {
    c.stop();
  }
});

Deno.test("Swim: a restarted node rejoins with a higher incarnation and is alive everywhere", () => {
  const c = new SimCluster({ n: 6, loss: 0, swim: FAST });
  try {
    c.joinAll();
    const victim = c.kill(2);
    assert(c.runUntilDead(victim, 20_000) !== undefined);
    const back = c.add(2, 1); // same incarnation as before: refutation must lift it
    back.swim.join([c.nodes[0].addr]);
    c.clock.advance(5000);
    assert(c.converged((s) => s === "alive"), "restarted node not alive everywhere");
    for (const n of c.nodes) assert.equal(n.swim.numAlive(), 6);
    assert(back.swim.local.incarnation > 1, "no refutation happened");
  } finally {
    c.stop();
  }
});

Deno.test("Swim: a leave is seen as left by every node at once", () => {
  const c = new SimCluster({ n: 6, loss: 0, swim: FAST });
  try {
    c.joinAll();
    const n = c.nodes[4];
    n.swim.leave();
    c.clock.advance(100);
    assert(c.converged((s) => s === "left", n), "not all saw the leave within 100 ms");
  } finally {
    c.stop();
  }
});

Deno.test("Swim: an update (weight, draining) reaches every node by gossip", () => {
  const c = new SimCluster({ n: 10, loss: 0, swim: FAST });
  try {
    c.joinAll();
    c.nodes[7].swim.update({ weight: 5, state: "draining" });
    c.clock.advance(1000);
    for (const n of c.nodes) {
      if (n === c.nodes[7]) continue;
      const r = n.swim.others().find((m) => m.record.id === "n7")!.record;
      assert.deepEqual([r.weight, r.state], [5, "draining"]);
    }
  } finally {
    c.stop();
  }
});

Deno.test("Swim: a node cut off from one peer is not declared dead (indirect probes)", () => {
  const c = new SimCluster({ n: 8, loss: 0, swim: FAST });
  try {
    c.joinAll();
    c.net.block(c.nodes[1].addr, c.nodes[2].addr);
    c.clock.advance(20_000);
    assert.deepEqual(c.falseDeaths, 0);
    assert(c.converged((s) => s === "alive"));
  } finally {
    c.stop();
  }
});

Deno.test("Swim: a partition marks the other side dead and heals when the link returns", () => {
  const c = new SimCluster({ n: 6, loss: 0, swim: FAST });
  try {
    c.joinAll();
    const left = c.nodes.slice(0, 3);
    const right = c.nodes.slice(3);
    for (const a of left) for (const b of right) c.net.block(a.addr, b.addr);
    c.clock.advance(15_000);
    assert.deepEqual(left[0].swim.stateOf(right[0].id), "dead");
    assert.deepEqual(right[0].swim.stateOf(left[0].id), "dead");
    for (const a of left) for (const b of right) c.net.block(a.addr, b.addr, false);
    c.clock.advance(10_000);
    assert(c.converged((s) => s === "alive"), "partition did not heal");
  } finally {
    c.stop();
  }
});

Deno.test("Swim: dead members are forgotten after deadReclaimMs", () => {
  const c = new SimCluster({ n: 4, loss: 0, swim: { ...FAST, deadReclaimMs: 3000 } });
  try {
    c.joinAll();
    const v = c.kill(1);
    assert(c.runUntilDead(v, 20_000) !== undefined);
    assert.deepEqual(c.nodes[0].swim.stateOf(v.id), "dead");
    c.clock.advance(4000);
    assert.deepEqual(c.nodes[0].swim.stateOf(v.id), undefined);
  } finally {
    c.stop();
  }
});

Deno.test("Swim: with 5% loss no live node is declared dead in two minutes", () => {
  const c = new SimCluster({ n: 20, loss: 0.05, swim: FAST, seed: 7 });
  try {
    c.joinAll(30_000);
    c.clock.advance(120_000);
    assert.deepEqual(c.falseDeaths, 0);
  } finally {
    c.stop();
  }
});

Deno.test("Swim: Lifeguard awareness keeps an overloaded node from accusing healthy ones", () => {
  const run = (awarenessMax: number) => {
    const c = new SimCluster({ n: 8, loss: 0, swim: { ...FAST, awarenessMax }, seed: 3 });
    try {
      c.joinAll();
      c.net.slow(c.nodes[5].addr, 250); // reads its socket 250 ms late: beyond the 200 ms interval
      c.clock.advance(60_000);
      return { accusations: c.accusations.get("n5") ?? 0, falseDeaths: c.falseDeaths };
    } finally {
      c.stop();
    }
  };
  const without = run(1);
  const withLifeguard = run(8);
  assert.ok(without.accusations > 20, `without awareness: ${JSON.stringify(without)}`);
  assert.ok(
    withLifeguard.accusations * 4 < without.accusations,
    `with awareness ${JSON.stringify(withLifeguard)}, without ${JSON.stringify(without)}`,
  );
});

Deno.test("Swim: one lost probe round raises no suspicion with suspectAfterProbes 2 (it does with 1)", () => {
  // Two nodes (no relays for indirect probes): 20 blackouts of 150 ms, each shorter than a probe
  // interval, so each can fail at most one round of a prober in a row.
  const run = (suspectAfterProbes: number) => {
    const c = new SimCluster({ n: 2, loss: 0, swim: { ...FAST, suspectAfterProbes }, seed: 11 });
    try {
      c.joinAll();
      const [a, b] = c.nodes;
      for (let i = 0; i < 20; i++) {
        c.clock.advance(1000 + Math.floor(c.random() * 200));
        c.net.block(a.addr, b.addr);
        c.clock.advance(150);
        c.net.block(a.addr, b.addr, false);
      }
      c.clock.advance(2000);
      return { suspicions: c.falseSuspicions, falseDeaths: c.falseDeaths };
    } finally {
      c.stop();
    }
  };
  const memberlist = run(1);
  const twice = run(2);
  assert.ok(memberlist.suspicions > 0, `with 1: ${JSON.stringify(memberlist)}`);
  assert.deepEqual(twice, { suspicions: 0, falseDeaths: 0 });
});

Deno.test("Swim: a member that stays silent is suspected after suspectAfterProbes rounds and declared dead", () => {
  const c = new SimCluster({ n: 2, loss: 0, swim: { ...FAST, suspectAfterProbes: 2 } });
  try {
    c.joinAll();
    const [a, b] = c.nodes;
    c.net.block(a.addr, b.addr);
    c.clock.advance(FAST.probeIntervalMs * 3);
    assert.equal(a.swim.stateOf(b.id), "suspect");
    c.clock.advance(6 * 4 * FAST.probeIntervalMs + 1000);
    assert.equal(a.swim.stateOf(b.id), "dead");
  } finally {
    c.stop();
  }
});

Deno.test("Swim: 100 nodes at 20% loss with the default timing: no false death, almost no suspicion in two minutes", () => {
  // memberlist's timing (probe 1 s, ack 500 ms, 3 indirect probes). Suspecting after one failed
  // round raised about 144 suspicions in these two minutes (a round fails with a few % probability
  // at 20 % loss), each gossiped to every node and refuted; two rounds in a row make that ~0.
  const c = new SimCluster({
    n: 100,
    loss: 0.2,
    seed: 5,
    swim: { ...FAST, probeIntervalMs: 1000, probeTimeoutMs: 500, gossipIntervalMs: 200, pushPullIntervalMs: 30_000 },
  });
  try {
    c.joinAll(120_000);
    const before = c.falseSuspicions;
    c.clock.advance(120_000);
    let accusations = 0;
    for (const v of c.accusations.values()) accusations += v;
    assert.deepEqual(c.falseDeaths, 0);
    assert.ok(accusations < 20, `${accusations} suspicions raised, ${c.falseSuspicions - before} suspect events`);
  } finally {
    c.stop();
  }
});
