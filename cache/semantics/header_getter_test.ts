import { strictEqual } from "node:assert/strict";
import { getHeader, headerListGetter, isHeaderList } from "./header_getter.ts";

Deno.test("getHeader() joins repeated lines of a header list with a comma", () => {
  strictEqual(getHeader([["x-a", "1"], ["X-A", "2"], ["x-b", "3"]], "x-a"), "1, 2");
  strictEqual(getHeader([["x-a", "1"]], "x-c"), null);
});

Deno.test("getHeader() reads a Headers object", () => {
  strictEqual(getHeader(new Headers({ "Cache-Control": "no-store" }), "cache-control"), "no-store");
});

Deno.test("headerListGetter() adapts a list case-insensitively", () => {
  const g = headerListGetter([["ETag", '"a"']]);
  strictEqual(g.get("etag"), '"a"');
  strictEqual(g.get("ETAG"), '"a"');
  strictEqual(g.get("age"), null);
});

Deno.test("isHeaderList() tells lists from getters", () => {
  strictEqual(isHeaderList([]), true);
  strictEqual(isHeaderList(new Headers()), false);
});
