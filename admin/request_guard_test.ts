import { assertEquals } from "../tests/_assert.ts";
import { bearerToken, checkRequest, hostAllowed, hostOfHostField, isJsonContentType } from "./request_guard.ts";

Deno.test("hostOfHostField() takes the host part of names, IPv4 and bracketed IPv6", () => {
  const table: [string, string | undefined][] = [
    ["127.0.0.1:9090", "127.0.0.1"],
    ["LocalHost", "localhost"],
    ["[::1]:9090", "::1"],
    ["[::1]", "::1"],
    ["evil.example.:9090", "evil.example"],
    ["[::1]x", undefined],
    ["a b", undefined],
    ["host:port", undefined],
  ];
  for (const [input, want] of table) assertEquals(hostOfHostField(input), want, input);
});

Deno.test("hostAllowed() admits IP literals, localhost names and configured names only", () => {
  const table: [string, boolean][] = [
    ["127.0.0.1:9090", true],
    ["10.1.2.3", true],
    ["[::1]:9090", true],
    ["localhost:9090", true],
    ["admin.localhost", true],
    ["cache-1.example.net:9090", true],
    ["CACHE-1.example.net.", true],
    ["evil.example", false],
    ["evil.example:9090", false],
    ["127.0.0.1.evil.example", false],
    ["localhost.evil.example", false],
    ["", false],
  ];
  for (const [host, want] of table) assertEquals(hostAllowed(host, ["cache-1.example.net"]), want, host);
  const only = (ip: string) => ip === "10.1.2.3";
  assertEquals(hostAllowed("10.1.2.3:9090", [], only), true);
  assertEquals(hostAllowed("10.9.9.9:9090", [], only), false);
  assertEquals(hostAllowed("localhost:9090", [], only), true);
});

Deno.test("bearerToken() and isJsonContentType() read only the header forms", () => {
  assertEquals(bearerToken("Bearer abc"), "abc");
  assertEquals(bearerToken("bearer abc"), "abc");
  assertEquals(bearerToken("Basic abc"), undefined);
  assertEquals(bearerToken(null), undefined);
  assertEquals(isJsonContentType("application/json; charset=utf-8"), true);
  assertEquals(isJsonContentType("text/plain; application/json"), false);
  assertEquals(isJsonContentType("application/x-www-form-urlencoded"), false);
  assertEquals(isJsonContentType(null), false);
});

Deno.test("checkRequest() refuses rebinding hosts, cross-site and simple state-changing requests", () => {
  const ok = "127.0.0.1:9090";
  const table: { what: string; method: string; headers: Record<string, string>; bearer?: boolean; want?: number }[] = [
    { what: "GET from the CLI", method: "GET", headers: { host: ok } },
    { what: "GET under a rebound name", method: "GET", headers: { host: "evil.example:9090" }, want: 421 },
    { what: "POST with JSON", method: "POST", headers: { host: ok, "content-type": "application/json" } },
    { what: "POST with the token", method: "POST", headers: { host: ok }, bearer: true },
    {
      what: "form POST",
      method: "POST",
      headers: { host: ok, "content-type": "application/x-www-form-urlencoded" },
      want: 403,
    },
    { what: "text/plain POST", method: "POST", headers: { host: ok, "content-type": "text/plain" }, want: 403 },
    { what: "DELETE without body", method: "DELETE", headers: { host: ok }, want: 403 },
    {
      what: "JSON POST from another site",
      method: "POST",
      headers: { host: ok, "content-type": "application/json", origin: "http://evil.example" },
      want: 403,
    },
    {
      what: "same-origin JSON POST",
      method: "POST",
      headers: { host: ok, "content-type": "application/json", origin: `http://${ok}` },
    },
    {
      what: "cross-site fetch metadata",
      method: "POST",
      headers: { host: ok, "content-type": "application/json", "sec-fetch-site": "cross-site" },
      want: 403,
    },
    { what: "preflight", method: "OPTIONS", headers: { host: ok, origin: "http://evil.example" }, want: 405 },
    {
      what: "rebound JSON POST",
      method: "POST",
      headers: { host: "evil.example", "content-type": "application/json", origin: "http://evil.example" },
      want: 421,
    },
  ];
  for (const t of table) {
    const r = checkRequest({
      method: t.method,
      headers: new Headers(t.headers),
      hostNames: [],
      bearerValid: t.bearer ?? false,
    });
    assertEquals(r?.status, t.want, t.what);
  }
});
