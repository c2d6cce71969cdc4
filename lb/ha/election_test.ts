import assert from "node:assert/strict";
import { Election, type ElectionOptions, type HaRole } from "./election.ts";

const base: ElectionOptions = {
  nodeId: "d1",
  priority: 100,
  preempt: true,
  preemptDelayMs: 0,
  advertIntervalMs: 100,
  deadAfter: 3,
};

/** One step: at time t, a heartbeat `hb` ("FROM/PRIO/ROLE"), a tick, health, or stop. */
type Step = [t: number, what: string];

/** Runs steps, returns "role(reason,advert)" after each step that changed something, else "-" / "advert". */
function run(opts: Partial<ElectionOptions>, steps: Step[]): string[] {
  const e = new Election({ ...base, ...opts });
  return steps.map(([t, what]) => {
    let out;
    if (what === "start") out = e.start(t);
    else if (what === "tick") out = e.tick(t);
    else if (what === "stop") out = e.stop();
    else if (what === "healthy" || what === "unhealthy") out = e.health(what === "healthy", t);
    else {
      const [from, prio, role] = what.split("/");
      out = e.heartbeat({ from, priority: Number(prio), role: role as HaRole }, t);
    }
    if (out.to) return `${out.to}(${out.reason}${out.advertNow ? ",advert" : ""})`;
    return out.advertNow ? "advert" : "-";
  });
}

Deno.test("Election: master down interval is deadAfter × interval + skew", () => {
  const e = new Election({ ...base, priority: 100 });
  assert.deepEqual(e.skewMs, (156 * 100) / 256);
  assert.deepEqual(e.masterDownIntervalMs, 300 + (156 * 100) / 256);
  assert.throws(() => new Election({ ...base, priority: 255 }), RangeError);
  assert.throws(() => new Election({ ...base, priority: 0 }), RangeError);
});

Deno.test("Election: alone, a node becomes MASTER after the master down interval", () => {
  // 360.9 ms for priority 100.
  assert.deepEqual(
    run({}, [[0, "start"], [300, "tick"], [360, "tick"], [361, "tick"], [400, "tick"]]),
    ["BACKUP(start)", "-", "-", "MASTER(master-dead,advert)", "-"],
  );
});

Deno.test("Election: heartbeats of a better MASTER hold a BACKUP back; their loss makes it MASTER", () => {
  assert.deepEqual(
    run({}, [
      [0, "start"],
      [100, "d2/200/MASTER"],
      [400, "tick"],
      [450, "d2/200/MASTER"],
      [800, "tick"],
      [811, "tick"],
    ]),
    ["BACKUP(start)", "-", "-", "-", "-", "MASTER(master-dead,advert)"],
  );
});

Deno.test("Election: BACKUP heartbeats never hold anyone back", () => {
  assert.deepEqual(
    run({}, [[0, "start"], [100, "d2/200/BACKUP"], [200, "d2/200/BACKUP"], [361, "tick"]]),
    ["BACKUP(start)", "-", "-", "MASTER(master-dead,advert)"],
  );
});

Deno.test("Election: a priority-0 release hands over after the skew only", () => {
  assert.deepEqual(
    run({}, [[0, "start"], [100, "d2/200/MASTER"], [150, "d2/0/MASTER"], [200, "tick"], [211, "tick"]]),
    ["BACKUP(start)", "-", "-", "-", "MASTER(master-released,advert)"],
  );
});

Deno.test("Election: preempt on, a BACKUP takes over from a worse MASTER after preemptDelayMs", () => {
  // Delay 500: heartbeats before 500 hold it back, later ones are ignored, the timer runs out at 460+361.
  assert.deepEqual(
    run({ preemptDelayMs: 500 }, [
      [0, "start"],
      [100, "d2/50/MASTER"],
      [460, "d2/50/MASTER"],
      [560, "d2/50/MASTER"],
      [660, "d2/50/MASTER"],
      [800, "tick"],
      [821, "tick"],
    ]),
    ["BACKUP(start)", "-", "-", "-", "-", "-", "MASTER(preempted,advert)"],
  );
});

Deno.test("Election: preempt off, a worse MASTER keeps the group", () => {
  assert.deepEqual(
    run({ preempt: false }, [
      [0, "start"],
      [100, "d2/50/MASTER"],
      [400, "d2/50/MASTER"],
      [700, "d2/50/MASTER"],
      [1000, "tick"],
      [1000, "d2/50/MASTER"],
      [1361, "tick"],
    ]),
    ["BACKUP(start)", "-", "-", "-", "-", "-", "MASTER(master-dead,advert)"],
  );
});

Deno.test("Election: split brain heals to the better MASTER, with preempt on or off", () => {
  for (const preempt of [true, false]) {
    // d1 (100) and d2 (200) both MASTER: d1 steps down, d2 answers a worse MASTER at once.
    assert.deepEqual(
      run({ preempt }, [[0, "start"], [361, "tick"], [500, "d2/200/MASTER"], [600, "d2/200/MASTER"], [900, "tick"]]),
      ["BACKUP(start)", "MASTER(master-dead,advert)", "BACKUP(better-master)", "-", "-"],
    );
    assert.deepEqual(
      run({ preempt, priority: 200 }, [[0, "start"], [331, "tick"], [500, "d2/100/MASTER"]]),
      ["BACKUP(start)", "MASTER(master-dead,advert)", "advert"],
    );
  }
});

Deno.test("Election: equal priorities are broken by the higher node id", () => {
  assert.deepEqual(
    run({ nodeId: "d1" }, [[0, "start"], [361, "tick"], [400, "d2/100/MASTER"]]),
    ["BACKUP(start)", "MASTER(master-dead,advert)", "BACKUP(better-master)"],
  );
  assert.deepEqual(
    run({ nodeId: "d3" }, [[0, "start"], [361, "tick"], [400, "d2/100/MASTER"]]),
    ["BACKUP(start)", "MASTER(master-dead,advert)", "advert"],
  );
  // A BACKUP with an equal priority and a higher id preempts; with a lower id it follows.
  assert.deepEqual(
    run({ nodeId: "d3" }, [[0, "start"], [100, "d2/100/MASTER"], [400, "d2/100/MASTER"], [461, "tick"]]),
    ["BACKUP(start)", "-", "-", "MASTER(preempted,advert)"],
  );
  assert.deepEqual(
    run({ nodeId: "d1" }, [[0, "start"], [100, "d2/100/MASTER"], [400, "d2/100/MASTER"], [700, "tick"]]),
    ["BACKUP(start)", "-", "-", "-"],
  );
});

Deno.test("Election: FAULT releases the group; recovery starts as BACKUP", () => {
  assert.deepEqual(
    run({}, [[0, "start"], [361, "tick"], [400, "unhealthy"], [2000, "tick"], [2100, "healthy"], [2461, "tick"]]),
    [
      "BACKUP(start)",
      "MASTER(master-dead,advert)",
      "FAULT(fault)",
      "-",
      "BACKUP(recovered)",
      "MASTER(master-dead,advert)",
    ],
  );
});

Deno.test("Election: stop asks a MASTER for its release heartbeat, not a BACKUP", () => {
  assert.deepEqual(run({}, [[0, "start"], [361, "tick"], [400, "stop"]]), [
    "BACKUP(start)",
    "MASTER(master-dead,advert)",
    "INIT(stop,advert)",
  ]);
  assert.deepEqual(run({}, [[0, "start"], [100, "stop"]]), ["BACKUP(start)", "INIT(stop)"]);
});

Deno.test("Election: own heartbeats are ignored", () => {
  assert.deepEqual(run({}, [[0, "start"], [100, "d1/200/MASTER"], [361, "tick"]]), [
    "BACKUP(start)",
    "-",
    "MASTER(master-dead,advert)",
  ]);
});
