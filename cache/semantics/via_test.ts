import { strictEqual } from "node:assert/strict";
import { appendVia, viaValue, xCacheValue } from "./via.ts";

Deno.test("viaValue() omits the HTTP protocol name", () => {
  strictEqual(viaValue("HTTP/1.1", "cache1"), "1.1 cache1");
  strictEqual(viaValue("HTTP/1.0", "cache1"), "1.0 cache1");
  strictEqual(viaValue("1.1", "cache1:3128"), "1.1 cache1:3128");
});

Deno.test("viaValue() keeps other protocol names", () => {
  strictEqual(viaValue("WS/1.0", "cache1"), "WS/1.0 cache1");
});

Deno.test("appendVia() appends to a received Via (RFC 9110 example)", () => {
  strictEqual(appendVia("1.0 fred", "HTTP/1.1", "p.example.net"), "1.0 fred, 1.1 p.example.net");
  strictEqual(appendVia(null, "HTTP/1.1", "cache1"), "1.1 cache1");
  strictEqual(appendVia("  ", "HTTP/1.1", "cache1"), "1.1 cache1");
});

Deno.test("xCacheValue() formats Squid's X-Cache", () => {
  strictEqual(xCacheValue("HIT", "cache1"), "HIT from cache1");
  strictEqual(xCacheValue("REVALIDATED", "cache2"), "REVALIDATED from cache2");
});
