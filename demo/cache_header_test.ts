import { assertEquals } from "../tests/_assert.ts";
import { cacheVerdict, lastViaNode, parseXCache, viaNodes } from "./cache_header.ts";

Deno.test("parseXCache() reads Squid-style entries from several or joined headers", () => {
  const cases: { input: string[]; want: { result: string; node: string }[] }[] = [
    { input: ["HIT from cache-1"], want: [{ result: "HIT", node: "cache-1" }] },
    {
      input: ["HIT from c2, MISS from c1"],
      want: [{ result: "HIT", node: "c2" }, { result: "MISS", node: "c1" }],
    },
    {
      input: ["miss from a", "REVALIDATED from b"],
      want: [{ result: "MISS", node: "a" }, { result: "REVALIDATED", node: "b" }],
    },
    { input: ["HIT"], want: [{ result: "HIT", node: "unknown" }] },
    { input: ["??? garbage"], want: [] },
  ];
  for (const c of cases) assertEquals(parseXCache(c.input), c.want, JSON.stringify(c.input));
});

Deno.test("lastViaNode() names the last proxy in Via", () => {
  assertEquals(lastViaNode(["1.1 c2 (webcache/0.1.0), 1.1 c1 (webcache/0.1.0)"]), "c1");
  assertEquals(lastViaNode(["1.0 fred", "1.1 p.example.net"]), "p.example.net");
  assertEquals(lastViaNode([]), undefined);
  assertEquals(viaNodes(["1.1 a (x), 1.0 b", "c"]), ["a", "b", "c"]);
});

Deno.test("cacheVerdict() finds the answering cache and a sibling hit", () => {
  const cases: { headers: [string, string][]; want: ReturnType<typeof cacheVerdict> }[] = [
    { headers: [["x-cache", "HIT from c1"]], want: { result: "HIT", node: "c1" } },
    {
      headers: [["x-cache", "HIT from c2"], ["x-cache", "MISS from c1"]],
      want: { result: "MISS", node: "c1", sibling: "c2" },
    },
    { headers: [["x-cache", "MISS from c2"], ["x-cache", "MISS from c1"]], want: { result: "MISS", node: "c1" } },
    { headers: [["via", "1.1 c3 (webcache)"]], want: { result: "NONE", node: "c3" } },
    {
      headers: [["via", "1.1 c2, 1.1 c3"], ["x-cache", "MISS from c3"]],
      want: { result: "MISS", node: "c3", sibling: "c2" },
    },
    { headers: [["via", "1.1 c2, 1.1 c3"], ["x-cache", "HIT from c3"]], want: { result: "HIT", node: "c3" } },
    { headers: [["via", "1.1 c3"], ["x-cache", "MISS from c3"]], want: { result: "MISS", node: "c3" } },
    { headers: [], want: { result: "NONE", node: "unknown" } },
  ];
  for (const c of cases) assertEquals(cacheVerdict(c.headers), c.want, JSON.stringify(c.headers));
});
