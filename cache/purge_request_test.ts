import assert from "node:assert/strict";
import { newBan, purgeSpec } from "./purge_request.ts";

Deno.test("purgeSpec() checks the kind and the pattern", () => {
  const cases: { description: string; kind: string; pattern: string; want: unknown }[] = [
    { description: "default url", kind: "", pattern: "http://h/a", want: { kind: "url", pattern: "http://h/a" } },
    {
      description: "prefix, any case",
      kind: " Prefix ",
      pattern: "http://h/",
      want: { kind: "prefix", pattern: "http://h/" },
    },
    {
      description: "regex",
      kind: "regex",
      pattern: "^http://h/(a|b)$",
      want: { kind: "regex", pattern: "^http://h/(a|b)$" },
    },
  ];
  for (const c of cases) assert.deepEqual(purgeSpec(c.kind, c.pattern), c.want, c.description);
  for (const [kind, pattern] of [["glob", "x"], ["regex", ""], ["regex", "(("], ["url", "x".repeat(9000)]]) {
    assert.ok("error" in purgeSpec(kind, pattern), `${kind} ${pattern.slice(0, 10)}`);
  }
});

Deno.test("newBan() gives each ban its own id and the issue time", () => {
  const a = newBan({ kind: "url", pattern: "http://h/a" }, "c1", 5);
  const b = newBan({ kind: "url", pattern: "http://h/a" }, "c1", 5);
  assert.notEqual(a.id, b.id);
  assert.match(a.id, /^[0-9a-f]{32}$/);
  assert.deepEqual({ ...a, id: "" }, { id: "", kind: "url", pattern: "http://h/a", timeMs: 5, origin: "c1" });
});
