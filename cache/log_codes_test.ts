import { assertEquals } from "../tests/_assert.ts";
import { hitCode, peerHierarchy } from "./log_codes.ts";

Deno.test("hitCode() is TCP_HIT for a disk read and TCP_MEM_HIT for memory", () => {
  const table: { tier?: "memory" | "disk"; want: string }[] = [
    { tier: "disk", want: "TCP_HIT" },
    { tier: "memory", want: "TCP_MEM_HIT" },
    { tier: undefined, want: "TCP_MEM_HIT" },
  ];
  for (const { tier, want } of table) assertEquals(hitCode({ tier }), want, `tier ${tier}`);
});

Deno.test("peerHierarchy() keeps the selector's code and falls back by peer type", () => {
  const table: {
    type: "sibling" | "parent";
    hierarchy?: Parameters<typeof peerHierarchy>[0]["hierarchy"];
    want: string;
  }[] = [
    { type: "sibling", want: "SIBLING_HIT" },
    { type: "parent", want: "FIRST_UP_PARENT" },
    { type: "parent", hierarchy: "PARENT_HIT", want: "PARENT_HIT" },
    { type: "parent", hierarchy: "CARP", want: "CARP" },
    { type: "parent", hierarchy: "FIRST_PARENT_MISS", want: "FIRST_PARENT_MISS" },
    { type: "sibling", hierarchy: "SIBLING_HIT", want: "SIBLING_HIT" },
  ];
  for (const c of table) assertEquals(peerHierarchy(c), c.want, JSON.stringify(c));
});
