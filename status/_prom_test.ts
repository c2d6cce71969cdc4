import { assertEquals } from "../tests/_assert.ts";
import { parsePromText, sumSamples } from "./_prom.ts";

const TEXT = `# HELP webcache_icp_queries_sent_total ICP queries sent.
# TYPE webcache_icp_queries_sent_total counter
webcache_icp_queries_sent_total{peer="127.0.0.1:1"} 59
webcache_icp_queries_sent_total{peer="127.0.0.1:2"} 41
webcache_cache_peering_choices_total{mode="icp",choice="origin"} 53
webcache_cache_peering_choices_total{mode="icp",choice="hit"} 6
webcache_process_heap_used_bytes 1.5e6
bogus line {
with_escape{l="a\\"b"} 2 1700000000000
`;

Deno.test("parsePromText() reads samples with labels, exponents, timestamps and escapes", () => {
  const s = parsePromText(TEXT);
  assertEquals(s.length, 6);
  assertEquals(s[0], { name: "webcache_icp_queries_sent_total", labels: { peer: "127.0.0.1:1" }, value: 59 });
  assertEquals(s[4].value, 1.5e6);
  assertEquals(s[5], { name: "with_escape", labels: { l: 'a"b' }, value: 2 });
});

Deno.test("sumSamples() sums a metric filtered by labels", () => {
  const s = parsePromText(TEXT);
  assertEquals(sumSamples(s, "webcache_icp_queries_sent_total"), 100);
  assertEquals(sumSamples(s, "webcache_cache_peering_choices_total", { choice: "hit" }), 6);
  assertEquals(sumSamples(s, "nope"), undefined);
});
