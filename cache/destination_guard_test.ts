import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { DestinationDeniedError, DestinationGuard } from "./destination_guard.ts";

const own = () => ["10.1.2.3", "fd00::5", "127.0.0.1", "::1"];

Deno.test("DestinationGuard.checkAddress() refuses internal and own addresses by default", () => {
  const g = new DestinationGuard({ interfaces: own, servicePorts: [9090, 7946, 3130], ownAddresses: ["10.9.9.9"] });
  const table: [string, number, string | null][] = [
    ["127.0.0.1", 80, "loopback"],
    ["127.255.255.254", 80, "loopback"],
    ["::1", 80, "loopback"],
    ["::ffff:127.0.0.1", 80, "loopback"],
    ["::ffff:7f00:1", 80, "loopback"],
    ["169.254.169.254", 80, "link-local"],
    ["fe80::1", 80, "link-local"],
    ["febf::1", 80, "link-local"],
    ["0.0.0.0", 80, "unspecified"],
    ["0.1.2.3", 80, "unspecified"],
    ["::", 80, "unspecified"],
    ["::7f00:1", 80, "unspecified"],
    ["::ffff:a9fe:a9fe", 80, "link-local"],
    ["10.1.2.3", 8080, "own address"],
    ["fd00::5", 80, "own address"],
    ["10.9.9.9", 80, "own address"],
    ["::ffff:10.1.2.3", 80, "own address"],
    ["10.1.2.3", 9090, "service port"],
    ["127.0.0.2", 7946, "service port"],
    ["0.0.0.0", 3130, "service port"],
    ["192.0.2.10", 80, null],
    ["10.1.2.4", 80, null],
    ["2001:db8::1", 80, null],
    ["192.0.2.10", 9090, null],
    ["not-an-ip", 80, "not an address"],
  ];
  for (const [ip, port, want] of table) assertEquals(g.checkAddress(ip, port), want, `${ip}:${port}`);
});

Deno.test("DestinationGuard opens allow-listed networks but never this node's service ports", () => {
  const g = new DestinationGuard({ interfaces: own, servicePorts: [9090], allow: ["127.0.0.0/8", "10.1.2.3/32"] });
  assertEquals(g.checkAddress("127.0.0.1", 8080), null);
  assertEquals(g.checkAddress("::ffff:127.0.0.1", 8080), null);
  assertEquals(g.checkAddress("10.1.2.3", 80), null);
  assertEquals(g.checkAddress("127.0.0.1", 9090), "service port");
  assertEquals(g.checkAddress("::1", 8080), "loopback");
  assertEquals(g.checkAddress("169.254.169.254", 80), "link-local");
  assertEquals(g.checkHost("localhost", 8080), null);
  assertEquals(g.checkHost("localhost", 9090), "loopback");
});

Deno.test("DestinationGuard.checkHost() refuses localhost names and lets other names through to the connect check", () => {
  const g = new DestinationGuard({ interfaces: own });
  assertEquals(g.checkHost("localhost", 80), "loopback");
  assertEquals(g.checkHost("LOCALHOST.", 80), "loopback");
  assertEquals(g.checkHost("a.b.localhost", 80), "loopback");
  assertEquals(g.checkHost("127.0.0.1", 80), "loopback");
  assertEquals(g.checkHost("::1", 80), "loopback");
  assertEquals(g.checkHost("example.org", 80), null);
  assertEquals(g.checkHost("localhost.example.org", 80), null);
});

Deno.test("DestinationGuard.checkConnected() throws for the address actually reached", () => {
  const g = new DestinationGuard({ interfaces: own });
  const e = assertThrows(
    () => g.checkConnected({ transport: "tcp", hostname: "127.0.0.1", port: 8080 }),
    DestinationDeniedError,
  );
  assertEquals((e as DestinationDeniedError).reason, "loopback");
  g.checkConnected({ transport: "tcp", hostname: "192.0.2.1", port: 80 });
});

Deno.test("DestinationGuard.resolve() checks every address of a name and returns one that passed", async () => {
  const answers: Record<string, string[]> = {
    "public.example": ["192.0.2.10", "2001:db8::10"],
    "rebind.example": ["192.0.2.10", "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "empty.example": [],
  };
  const g = new DestinationGuard({
    interfaces: own,
    lookup: (name) => {
      if (!(name in answers)) return Promise.reject(new Error("ENOTFOUND"));
      return Promise.resolve(answers[name]);
    },
  });
  assertEquals(await g.resolve("public.example", 80), "192.0.2.10");
  assertEquals(await g.resolve("192.0.2.20", 80), "192.0.2.20");
  for (const [name, reason] of [["rebind.example", "loopback"], ["metadata.example", "link-local"]]) {
    let err: unknown;
    await g.resolve(name, 80).catch((e) => err = e);
    assertEquals(err instanceof DestinationDeniedError && err.reason, reason, name);
  }
  let lookups = 0;
  const counting = new DestinationGuard({ interfaces: own, lookup: () => (lookups++, Promise.resolve([])) });
  for (const host of ["localhost", "127.0.0.1", "::1"]) {
    let err: unknown;
    await counting.resolve(host, 80).catch((e) => err = e);
    assertEquals(err instanceof DestinationDeniedError, true, host);
  }
  assertEquals(lookups, 0); // refused before any lookup
  let failed: unknown;
  await g.resolve("missing.example", 80).catch((e) => failed = e);
  assertEquals(failed instanceof Error && !(failed instanceof DestinationDeniedError), true);
  await g.resolve("empty.example", 80).catch((e) => failed = e);
  assertEquals(String(failed).includes("no address"), true);
});

Deno.test("DestinationGuard.resolve() reuses a name's addresses for a few seconds, still checking them", async () => {
  let lookups = 0;
  const g = new DestinationGuard({
    interfaces: own,
    servicePorts: [9090],
    lookup: () => (lookups++, Promise.resolve(["192.0.2.10"])),
  });
  assertEquals(await g.resolve("a.example", 80), "192.0.2.10");
  assertEquals(await g.resolve("a.example", 81), "192.0.2.10");
  assertEquals(lookups, 1);
  const selfish = new DestinationGuard({
    interfaces: () => ["192.0.2.10"],
    lookup: () => Promise.resolve(["192.0.2.10"]),
  });
  let err: unknown;
  await selfish.resolve("a.example", 80).catch((e) => err = e);
  assertEquals(err instanceof DestinationDeniedError && err.reason, "own address");
});
