import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import {
  Acl,
  cidrContains,
  formatHostPort,
  intToIpv4,
  ipv4ToInt,
  parseCidr,
  parseHostPort,
  parseIPv6,
} from "./addr.ts";

Deno.test("parseHostPort() accepts host, IPv4, bracketed IPv6 and bare ports", () => {
  assertEquals(parseHostPort("127.0.0.1:9090"), { host: "127.0.0.1", port: 9090 });
  assertEquals(parseHostPort("cache-1.example.org:3128"), { host: "cache-1.example.org", port: 3128 });
  assertEquals(parseHostPort("[::1]:80"), { host: "::1", port: 80 });
  assertEquals(parseHostPort(":7946"), { host: "0.0.0.0", port: 7946 });
  assertEquals(parseHostPort("8080", "127.0.0.1"), { host: "127.0.0.1", port: 8080 });
  assertEquals(formatHostPort({ host: "::1", port: 80 }), "[::1]:80");
});

Deno.test("parseHostPort() rejects bad endpoints with the value in the message", () => {
  assertThrows(() => parseHostPort("localhost"), SyntaxError, '"localhost" is not HOST:PORT');
  assertThrows(() => parseHostPort("a:0"), RangeError, "port 0 is not in 1-65535");
  assertThrows(() => parseHostPort("a:65536"), RangeError, "port 65536");
  assertThrows(() => parseHostPort("a:b"), SyntaxError, 'port "b" is not a number');
  assertThrows(() => parseHostPort("bad host:1"), SyntaxError, '"bad host" is not a host name');
});

Deno.test("parseIPv6() expands :: and embedded IPv4", () => {
  assertEquals(parseIPv6("::1"), [0, 0, 0, 0, 0, 0, 0, 1]);
  assertEquals(parseIPv6("::ffff:10.0.0.1"), [0, 0, 0, 0, 0, 0xffff, 0x0a00, 1]);
  assertEquals(parseIPv6("1::2::3"), undefined);
  assertEquals(parseIPv6("1.2.3.4"), undefined);
});

Deno.test("cidrContains() matches IPv4, IPv6 and IPv4-mapped addresses", () => {
  const net = parseCidr("10.1.0.0/16");
  assert(cidrContains(net, "10.1.200.3"));
  assert(!cidrContains(net, "10.2.0.1"));
  assert(cidrContains(net, "::ffff:10.1.2.3"));
  assert(cidrContains(parseCidr("0.0.0.0/0"), "192.0.2.1"));
  assert(cidrContains(parseCidr("fd00::/8"), "fd12::1"));
  assert(!cidrContains(parseCidr("fd00::/8"), "fe80::1"));
  assert(cidrContains(parseCidr("10.0.0.7"), "10.0.0.7"));
  assert(!cidrContains(parseCidr("10.0.0.0/25"), "10.0.0.128"));
  assertThrows(() => parseCidr("10.0.0.0/33"), RangeError);
  assertThrows(() => parseCidr("nonsense/8"), SyntaxError);
});

Deno.test("Acl allows only listed networks; empty allows nobody", () => {
  const acl = new Acl(["127.0.0.0/8", "::1/128"]);
  assert(acl.allows("127.0.0.1") && acl.allows("::1"));
  assert(!acl.allows("10.0.0.1"));
  assert(!new Acl([]).allows("127.0.0.1"));
});

Deno.test("ipv4ToInt() and intToIpv4() round-trip", () => {
  assertEquals(ipv4ToInt("255.255.255.255"), 0xffffffff);
  assertEquals(intToIpv4(ipv4ToInt("10.200.0.100")), "10.200.0.100");
});
