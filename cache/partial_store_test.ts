import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { mergeSegments, type PartialMeta, PartialStore, partialView, type Segment } from "./partial_store.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const FULL = "0123456789";

function meta(headers: [string, string][] = [["etag", '"a"']], length = 10, primary = "http://x/f"): PartialMeta {
  return { primary, variant: "", headers, vary: [], requestTime: 0, responseTime: 0, length };
}
const part = (start: number, end: number) => enc(FULL.slice(start, end + 1));
const segs = (s: readonly Segment[]) => s.map((x) => `${x.start}:${dec(x.bytes)}`);

/** mergeSegments(): placing a run among stored runs, newer bytes winning. */
const mergeCases: { name: string; old: [number, string][]; add: [number, string]; want: string[] }[] = [
  { name: "disjoint runs stay apart", old: [[0, "01"]], add: [5, "56"], want: ["0:01", "5:56"] },
  { name: "adjacent runs join", old: [[0, "01"]], add: [2, "23"], want: ["0:0123"] },
  { name: "a run filling a gap joins three", old: [[0, "01"], [4, "45"]], add: [2, "23"], want: ["0:012345"] },
  { name: "overlap takes the newer bytes", old: [[0, "0123"]], add: [2, "XY"], want: ["0:01XY"] },
  { name: "a covering run replaces smaller ones", old: [[1, "1"], [3, "3"]], add: [0, "ABCDE"], want: ["0:ABCDE"] },
  { name: "a run inside a larger one splits and rejoins", old: [[0, "012345"]], add: [2, "X"], want: ["0:01X345"] },
];
for (const c of mergeCases) {
  Deno.test(`mergeSegments() ${c.name}`, () => {
    const old = c.old.map(([start, s]) => ({ start, bytes: enc(s) }));
    deepStrictEqual(segs(mergeSegments(old, { start: c.add[0], bytes: enc(c.add[1]) })), c.want);
  });
}

Deno.test("PartialStore combines parts with the same strong ETag until complete (RFC 9111 §3.4)", () => {
  const ps = new PartialStore({ maxBytes: 1000 });
  deepStrictEqual(ps.put(meta(), 0, part(0, 4)), { kind: "stored", combined: false });
  deepStrictEqual(ps.put(meta(), 7, part(7, 9)), { kind: "stored", combined: true });
  const [obj] = ps.variants("http://x/f");
  deepStrictEqual(segs(obj.segments), ["0:01234", "7:789"]);
  strictEqual(dec(ps.covers(obj, 1, 3)), "123");
  strictEqual(ps.covers(obj, 3, 8), undefined, "a range across a gap is not covered");
  strictEqual(ps.covers(obj, 4, 7), undefined);
  const last = ps.put(meta([["etag", '"a"'], ["x-new", "1"]]), 5, part(5, 6));
  strictEqual(last.kind, "complete");
  if (last.kind === "complete") {
    strictEqual(dec(last.body), FULL);
    deepStrictEqual(last.meta.headers, [["etag", '"a"'], ["x-new", "1"]], "the newest part's fields");
  }
  deepStrictEqual(ps.stats(), { objects: 0, bytes: 0 });
});

Deno.test("PartialStore does not combine without the same strong validator", () => {
  const table: { name: string; first: [string, string][]; second: [string, string][]; length?: number }[] = [
    { name: "different ETags", first: [["etag", '"a"']], second: [["etag", '"b"']] },
    { name: "weak ETags", first: [["etag", 'W/"a"']], second: [["etag", 'W/"a"']] },
    { name: "no ETag", first: [], second: [] },
    {
      name: "only Last-Modified",
      first: [["last-modified", "Mon, 07 Dec 2026 00:00:00 GMT"]],
      second: [["last-modified", "Mon, 07 Dec 2026 00:00:00 GMT"]],
    },
    { name: "another complete length", first: [["etag", '"a"']], second: [["etag", '"a"']], length: 12 },
  ];
  for (const t of table) {
    const ps = new PartialStore({ maxBytes: 1000 });
    ps.put(meta(t.first), 0, part(0, 4));
    const r = ps.put(meta(t.second, t.length ?? 10), 5, part(5, 9));
    deepStrictEqual(r, { kind: "stored", combined: false }, t.name);
    const [obj] = ps.variants("http://x/f");
    deepStrictEqual(segs(obj.segments), ["5:56789"], `${t.name}: the new part replaces the old`);
  }
});

Deno.test("PartialStore: one part that is the whole representation is complete at once", () => {
  const ps = new PartialStore({ maxBytes: 1000 });
  strictEqual(ps.put(meta([]), 0, part(0, 9)).kind, "complete");
  strictEqual(ps.variants("http://x/f").length, 0);
});

Deno.test("PartialStore refuses mismatched or oversized parts and evicts the least recently used", () => {
  const ps = new PartialStore({ maxBytes: 8 });
  deepStrictEqual(ps.put(meta(), 8, part(0, 4)), { kind: "refused", reason: "length-mismatch" });
  deepStrictEqual(ps.put(meta([], 100), 0, enc("x".repeat(9))), { kind: "refused", reason: "too-large" });
  ps.put(meta([], 10, "http://x/a"), 0, part(0, 2));
  ps.put(meta([], 10, "http://x/b"), 0, part(0, 2));
  const [a] = ps.variants("http://x/a");
  strictEqual(dec(ps.covers(a, 0, 1)), "01"); // a is now the most recently used
  ps.put(meta([], 10, "http://x/c"), 0, part(0, 2)); // 9 bytes > 8: b goes
  deepStrictEqual([ps.variants("http://x/a").length, ps.variants("http://x/b").length], [1, 0]);
  deepStrictEqual(ps.stats(), { objects: 2, bytes: 6 });
  strictEqual(ps.delete("http://x/a"), 1);
  strictEqual(ps.variants("http://x/a").length, 0);
  strictEqual(ps.variants("http://x/").length, 0, "a prefix of another URL is not that URL");
});

Deno.test("partialView() reads only the covered range, never the whole object", async () => {
  const ps = new PartialStore({ maxBytes: 1000 });
  ps.put(meta(), 4, part(4, 9));
  const [obj] = ps.variants("http://x/f");
  const bytes = ps.covers(obj, 6, 8)!;
  const view = partialView(obj, { start: 6, end: 8, bytes });
  deepStrictEqual([view.meta.status, view.meta.bodyBytes, view.body], [200, 10, undefined]);
  strictEqual(await new Response(view.openBody({ start: 6, end: 8 })).text(), "678");
  let failed = false;
  await new Response(view.openBody()).text().catch(() => failed = true);
  strictEqual(failed, true);
});
