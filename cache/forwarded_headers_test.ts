import { assertEquals } from "../tests/_assert.ts";
import { validateConfig } from "../config/mod.ts";
import { ForwardedHeaders } from "./forwarded_headers.ts";

Deno.test("ForwardedHeaders drops every client forwarding field by default", () => {
  const f = new ForwardedHeaders([]);
  const table: [string, boolean][] = [
    ["x-forwarded-host", true],
    ["x-forwarded-proto", true],
    ["x-forwarded-port", true],
    ["x-original-url", true],
    ["x-rewrite-url", true],
    ["forwarded", true],
    ["x-forwarded-for", true],
    ["x-forwarded-scheme", true],
    ["x-http-method-override", true],
    ["x-host", true],
    ["accept", false],
    ["cookie", false],
    ["x-forwarded", false],
    ["x_forwarded_host", true],
    ["x-forwarded_proto", true],
    ["x_custom", false],
  ];
  for (const [name, dropped] of table) assertEquals(f.drops(name), dropped, name);
  assertEquals(f.xForwardedFor("6.6.6.6", "10.0.0.1"), "10.0.0.1");
  assertEquals(f.xForwardedFor(null, "10.0.0.1"), "10.0.0.1");
  assertEquals(f.varyWith(["accept-encoding"]), ["accept-encoding"]);
});

Deno.test("ForwardedHeaders keeps the trusted fields and keys on them", () => {
  const f = new ForwardedHeaders(["x-forwarded-proto", "x-forwarded-for"]);
  assertEquals(f.drops("x-forwarded-proto"), false);
  assertEquals(f.drops("x-forwarded-host"), true);
  assertEquals(f.drops("x_forwarded_proto"), true); // only the trusted spelling is kept
  assertEquals(f.drops("x-forwarded-for"), true); // rebuilt by xForwardedFor()
  assertEquals(f.xForwardedFor("6.6.6.6", "10.0.0.1"), "6.6.6.6, 10.0.0.1");
  assertEquals(f.keyed, ["x-forwarded-proto"]);
  assertEquals(f.varyWith(["accept-encoding"]), ["accept-encoding", "x-forwarded-proto"]);
  assertEquals(f.varyWith(["x-forwarded-proto"]), ["x-forwarded-proto"]);
  assertEquals(f.varyWith("*"), "*");
});

Deno.test("cache.trustForwardedHeaders takes names in any case and refuses others", () => {
  const cfg = validateConfig({ cache: { trustForwardedHeaders: ["X-Forwarded-Proto"] } }, { source: "test" });
  assertEquals(cfg.cache.trustForwardedHeaders, ["x-forwarded-proto"]);
  let err: unknown;
  try {
    validateConfig({ cache: { trustForwardedHeaders: ["cookie"] } }, { source: "test" });
  } catch (e) {
    err = e;
  }
  assertEquals(String(err).includes("trustForwardedHeaders"), true, String(err));
});
