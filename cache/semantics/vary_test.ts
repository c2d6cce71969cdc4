import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { HeaderList } from "./header_getter.ts";
import { normalizeAcceptEncoding, parseVary, varyKey, varyMatches } from "./vary.ts";

const varyCases: { name: string; input: string | null; want: string[] | "*" }[] = [
  { name: "returns [] when absent", input: null, want: [] },
  { name: "returns [] for an empty value", input: " ", want: [] },
  {
    name: "lower-cases, sorts and de-duplicates",
    input: "User-Agent, accept-encoding,Accept-Encoding",
    want: ["accept-encoding", "user-agent"],
  },
  { name: "returns * for Vary: *", input: "*", want: "*" },
  { name: "returns * when any member is *", input: "Accept, *", want: "*" },
];
for (const c of varyCases) {
  Deno.test(`parseVary() ${c.name}`, () => deepStrictEqual(parseVary(c.input), c.want));
}

const aeCases: { name: string; input: string | null; want: string | null }[] = [
  { name: "keeps gzip", input: "gzip", want: "gzip" },
  { name: "sorts the accepted set", input: "gzip, deflate, br", want: "br,deflate,gzip" },
  { name: "drops q-values of accepted codings", input: "deflate;q=0.5, gzip, br;q=0.9", want: "br,deflate,gzip" },
  { name: "drops codings with q=0", input: "gzip;q=0, br", want: "br" },
  { name: "counts x-gzip as gzip", input: "x-gzip, gzip", want: "gzip" },
  { name: "keeps * and the codings refused beside it", input: "*, br;q=0", want: "*,!br" },
  { name: "keeps an explicit identity refusal", input: "gzip, identity;q=0", want: "gzip,!identity" },
  { name: "keeps a refusal of * (nothing but what is listed)", input: "gzip, *;q=0", want: "gzip,!*" },
  { name: "treats a duplicate with q=0 as refused", input: "gzip, gzip;q=0", want: "" },
  { name: "ignores case and whitespace", input: " GZIP ; Q=0.5 ,BR", want: "br,gzip" },
  { name: "gives an empty set for identity only", input: "identity", want: "" },
  { name: "gives an empty set for an empty value", input: "", want: "" },
  { name: "returns null when absent", input: null, want: null },
  { name: "treats a malformed q as 0", input: "gzip;q=x", want: "" },
];
for (const c of aeCases) {
  Deno.test(`normalizeAcceptEncoding() ${c.name}`, () => strictEqual(normalizeAcceptEncoding(c.input), c.want));
}

Deno.test("varyKey() is empty without Vary names", () => {
  strictEqual(varyKey([], [["accept", "x"]]), "");
});

Deno.test("varyKey() normalises whitespace and combines field lines", () => {
  const a: HeaderList = [["accept-language", " en-GB ,  fr;q=0.5 "]];
  const b: HeaderList = [["Accept-Language", "en-GB"], ["accept-language", "fr;q=0.5"]];
  strictEqual(varyKey(["accept-language"], a), "accept-language:en-gb,fr;q=0.5");
  strictEqual(varyKey(["accept-language"], b), varyKey(["accept-language"], a));
  strictEqual(varyKey(["accept-language"], new Headers(b)), varyKey(["accept-language"], a));
});

Deno.test("varyKey() keeps an absent header apart from an empty one", () => {
  strictEqual(varyKey(["x-a"], []), "x-a");
  strictEqual(varyKey(["x-a"], [["x-a", ""]]), "x-a:");
});

Deno.test("varyKey() keeps value case (values are case-sensitive)", () => {
  strictEqual(varyKey(["x-a"], [["x-a", "Foo"]]) === varyKey(["x-a"], [["x-a", "foo"]]), false);
});

Deno.test("varyKey() collapses Accept-Encoding spellings of one set into one variant", () => {
  const k1 = varyKey(["accept-encoding"], [["accept-encoding", "gzip, deflate, br"]]);
  const k2 = varyKey(["accept-encoding"], [["Accept-Encoding", "br;q=1.0,deflate;q=0.5"], ["accept-encoding", "GZIP"]]);
  strictEqual(k1, "accept-encoding:br,deflate,gzip");
  strictEqual(k2, k1);
});

Deno.test("varyKey() keeps clients that accept different codings apart", () => {
  const gzipOnly = varyKey(["accept-encoding"], [["accept-encoding", "gzip"]]);
  const withDeflate = varyKey(["accept-encoding"], [["accept-encoding", "gzip, deflate"]]);
  const none = varyKey(["accept-encoding"], []);
  const identity = varyKey(["accept-encoding"], [["accept-encoding", "identity"]]);
  strictEqual(new Set([gzipOnly, withDeflate, none, identity]).size, 4);
});

Deno.test("varyKey() joins several names in the order given", () => {
  strictEqual(
    varyKey(["accept", "x-b"], [["x-b", "2"], ["accept", "text/html"]]),
    "accept:text/html\nx-b:2",
  );
});

Deno.test("varyMatches() selects the variant stored for equivalent request headers", () => {
  const names = parseVary("Accept-Language") as string[];
  const meta = { vary: names, variant: varyKey(names, [["accept-language", "de"]]) };
  strictEqual(varyMatches(meta, [["accept-language", " de "]]), true);
  strictEqual(varyMatches(meta, [["accept-language", "fr"]]), false);
  strictEqual(varyMatches(meta, []), false);
});

Deno.test("varyMatches() matches a response without Vary for any request", () => {
  strictEqual(varyMatches({ vary: [], variant: "" }, [["accept", "x"]]), true);
});

Deno.test("varyMatches() never matches Vary: *", () => {
  strictEqual(varyMatches({ vary: ["*"], variant: "" }, []), false);
});

Deno.test("varyKey() lower-cases Accept-Language (case-insensitive ranges) but keeps their order", () => {
  const names = ["accept-language"];
  const cases: { name: string; a: string; b: string; same: boolean }[] = [
    { name: "case of tags", a: "en, de", b: "eN, De", same: true },
    { name: "case of region and q", a: "en-US;q=0.8, fr", b: "EN-us;Q=0.8,FR", same: true },
    { name: "order", a: "en, de", b: "de, en", same: false },
    { name: "other tags", a: "en", b: "de", same: false },
  ];
  for (const c of cases) {
    const ka = varyKey(names, new Headers({ "accept-language": c.a }));
    const kb = varyKey(names, new Headers({ "accept-language": c.b }));
    strictEqual(ka === kb, c.same, c.name);
  }
  strictEqual(varyKey(["x-token"], new Headers({ "x-token": "AbC" })), "x-token:AbC", "other fields keep their case");
});
