import { strictEqual, throws } from "node:assert/strict";
import { cacheKey } from "./cache_key.ts";

const cases: { name: string; input: string; want: string }[] = [
  { name: "lower-cases scheme and host", input: "HTTP://WWW.Example.ORG/Path", want: "http://www.example.org/Path" },
  { name: "removes the default http port", input: "http://example.org:80/a", want: "http://example.org/a" },
  { name: "removes the default https port", input: "https://example.org:443/a", want: "https://example.org/a" },
  { name: "keeps a non-default port", input: "http://example.org:8080/a", want: "http://example.org:8080/a" },
  { name: "adds / to an empty path", input: "http://example.org", want: "http://example.org/" },
  { name: "removes the fragment", input: "http://example.org/a#top", want: "http://example.org/a" },
  {
    name: "keeps the query as it is",
    input: "http://example.org/a?b=2&a=1&B=3",
    want: "http://example.org/a?b=2&a=1&B=3",
  },
  { name: "keeps an empty query marker", input: "http://example.org/a?", want: "http://example.org/a?" },
  { name: "resolves dot segments", input: "http://example.org/a/./b/../c", want: "http://example.org/a/c" },
  { name: "keeps path case", input: "http://example.org/A", want: "http://example.org/A" },
  { name: "keeps IPv6 literals", input: "http://[::1]:80/x", want: "http://[::1]/x" },
];
for (const c of cases) {
  Deno.test(`cacheKey() ${c.name}`, () => strictEqual(cacheKey(c.input), c.want));
}

Deno.test("cacheKey() accepts a URL object", () => {
  strictEqual(cacheKey(new URL("http://A.example:80/x#y")), "http://a.example/x");
});

Deno.test("cacheKey() rejects a relative URL with a TypeError", () => {
  throws(() => cacheKey("/relative"), {
    name: "TypeError",
    message: "Cannot build cache key: invalid URL '/relative'",
  });
});
