import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { formatSize, parseDurationMs, parseSize } from "./units.ts";

Deno.test("parseSize() understands binary and decimal units", () => {
  assertEquals(parseSize("1GiB"), 1024 ** 3);
  assertEquals(parseSize("512MiB"), 512 * 1024 ** 2);
  assertEquals(parseSize("10MB"), 10_000_000);
  assertEquals(parseSize("64k"), 65536);
  assertEquals(parseSize("100"), 100);
  assertEquals(parseSize(4096), 4096);
  assertThrows(() => parseSize("12QB"), SyntaxError, '"12QB" is not a size');
  assertThrows(() => parseSize(-1), RangeError);
});

Deno.test("formatSize() and parseDurationMs() format and parse", () => {
  assertEquals(formatSize(1536), "1.50 KiB");
  assertEquals(formatSize(100), "100 B");
  assertEquals(parseDurationMs("500ms"), 500);
  assertEquals(parseDurationMs("30s"), 30_000);
  assertEquals(parseDurationMs("5m"), 300_000);
  assertEquals(parseDurationMs(2, "s"), 2000);
  assertThrows(() => parseDurationMs("soon"), SyntaxError);
});
