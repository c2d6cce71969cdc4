import { assertEquals } from "../tests/_assert.ts";
import { ProgressBar, renderBar } from "./progress.ts";

Deno.test("renderBar() fills cells in proportion and clamps", () => {
  const cases: [number, string][] = [
    [0, "[░░░░░░░░░░]   0%"],
    [0.5, "[█████░░░░░]  50%"],
    [1, "[██████████] 100%"],
    [1.7, "[██████████] 100%"],
    [-1, "[░░░░░░░░░░]   0%"],
    [Number.NaN, "[░░░░░░░░░░]   0%"],
  ];
  for (const [f, want] of cases) assertEquals(renderBar(f, 10), want, String(f));
});

Deno.test("ProgressBar prints one plain line per 10% when not on a terminal", () => {
  const out: string[] = [];
  const bar = new ProgressBar({ label: "load", tty: false, write: (t) => out.push(t), width: 4 });
  for (let i = 0; i <= 100; i++) bar.update(i / 100, `${i}`);
  bar.done(1, "end");
  assertEquals(out.length, 11, "no second 100% line");
  assertEquals(out[0], "load [░░░░]   0%  0\n");
  assertEquals(out[5], "load [██░░]  50%  50\n");
  assertEquals(out[10], "load [████] 100%  100\n");
  const early: string[] = [];
  const stopped = new ProgressBar({ label: "load", tty: false, write: (t) => early.push(t), width: 4 });
  stopped.update(0.42, "a");
  stopped.done(0.42, "stopped");
  assertEquals(early, ["load [██░░]  42%  a\n", "load [██░░]  42%  stopped\n"]);
});

Deno.test("ProgressBar redraws in place on a terminal, at most every redrawMs", () => {
  const out: string[] = [];
  let now = 0;
  const bar = new ProgressBar({ label: "x", tty: true, write: (t) => out.push(t), width: 2, now: () => now });
  bar.update(0.1);
  bar.update(0.2); // same instant: skipped
  now = 150;
  bar.update(0.5);
  bar.done(1);
  bar.update(0.3); // after done: ignored
  assertEquals(out, ["\r\x1b[2Kx [░░]  10%", "\r\x1b[2Kx [█░]  50%", "\r\x1b[2Kx [██] 100%", "\n"]);
});
