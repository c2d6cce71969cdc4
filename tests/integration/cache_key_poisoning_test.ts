/**
 * The cache key is exactly what the origin was asked (issue #14 item 2): an attacker's spelling of
 * a URL (dot segments, `%2e`, backslashes, fragments, host and port forms, an absolute-form target
 * whose authority differs from Host) never makes the origin answer one URL while the answer is
 * stored under another. The origin records the raw request line and echoes `Host` + target, so a
 * client reading a body other than its own normalised URL has been served a poisoned object.
 */
import { assertEquals } from "../_assert.ts";
import { keepAliveGet, parseRaw, rawExchange, RecordingOrigin, request, startCache } from "./_cache_harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** An origin whose every answer is `host target` and cacheable for a minute. */
function echoOrigin(): RecordingOrigin {
  return new RecordingOrigin((r) => ({
    headers: [["cache-control", "max-age=60"], ["content-type", "text/plain"]],
    body: `${r.host} ${r.target}`,
  }));
}

/** Sends a request line and Host exactly as given. */
async function raw(port: number, target: string, host: string | null, method = "GET") {
  const head = `${method} ${target} HTTP/1.1\r\n${host === null ? "" : `Host: ${host}\r\n`}Connection: close\r\n\r\n`;
  return parseRaw(await rawExchange(port, enc(head)), method);
}

Deno.test("cache key: spellings of one path are asked and stored as that one normalised path", async () => {
  const origin = echoOrigin();
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const attacks = [
      "/a/../secret",
      "/a/%2e%2e/secret",
      "/a/%2E%2E/secret",
      "/%2e%2e/secret",
      "/a/.%2e/secret",
      "/a\\..\\secret",
      "/a\\%2e%2e\\secret",
      "/./secret",
      "/secret#frag",
      "/a/../secret#x/../../y",
      "/%73ecret",
      "/../../secret",
    ];
    for (const t of attacks) {
      const r = await raw(c.port, t, "good.example");
      assertEquals(r.status, 200, t);
      assertEquals(r.text, "good.example /secret", `${t}: the body must be the origin's answer to /secret`);
    }
    // The first one fetched; every other spelling was a hit of that same object.
    assertEquals(origin.targets, ["/secret"]);
    assertEquals((await raw(c.port, "/secret", "good.example")).headers.get("x-cache"), "HIT from testcache");
    // A path the attacker never asked for is still the origin's own answer to it.
    assertEquals((await raw(c.port, "/a/secret", "good.example")).text, "good.example /a/secret");
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache key: host case, default and empty ports and IPv4 spellings are one key and one Host", async () => {
  const origin = echoOrigin();
  const c = startCache({ defaultOrigin: origin.url });
  try {
    for (const host of ["good.example", "GOOD.Example", "good.example:80", "good.example:", "good.example:0080"]) {
      const r = await raw(c.port, "/h", host);
      assertEquals(r.text, "good.example /h", host);
    }
    assertEquals(origin.seen.map((s) => `${s.host} ${s.target}`), ["good.example /h"]);
    assertEquals((await raw(c.port, "/n", "2130706433")).text, "127.0.0.1 /n");
    assertEquals((await raw(c.port, "/n", "0x7f.0.0.1")).headers.get("x-cache"), "HIT from testcache");
    assertEquals((await raw(c.port, "/n", "127.0.0.1")).text, "127.0.0.1 /n");
    assertEquals(origin.seen.length, 2);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache key: an absolute-form target's authority wins over Host for routing, key and Host sent", async () => {
  const good = echoOrigin();
  const evil = echoOrigin();
  const c = startCache({ origins: { "good.example": good.url, "evil.example": evil.url } });
  try {
    const a = await raw(c.port, "http://evil.example/x", "good.example");
    assertEquals(a.text, "evil.example /x");
    assertEquals(evil.seen.map((s) => `${s.host} ${s.target}`), ["evil.example /x"]);
    assertEquals(good.seen.length, 0);
    // good.example/x is not the object evil.example/x stored.
    const b = await raw(c.port, "/x", "good.example");
    assertEquals(b.text, "good.example /x");
    assertEquals(b.headers.get("x-cache"), "MISS from testcache");
    assertEquals(good.seen.map((s) => `${s.host} ${s.target}`), ["good.example /x"]);
    // Spellings of the absolute form normalise like origin-form ones.
    assertEquals((await raw(c.port, "HTTP://EVIL.example:80/y/../x#f", "good.example")).text, "evil.example /x");
    assertEquals(evil.seen.length, 1);
  } finally {
    await c.close();
    await good.close();
    await evil.close();
  }
});

Deno.test("cache key: an absolute-form target with only a default origin keys and sends its own host", async () => {
  const origin = echoOrigin();
  const c = startCache({ defaultOrigin: origin.url });
  try {
    assertEquals((await raw(c.port, "http://evil/", "good")).text, "evil /");
    const b = await raw(c.port, "/", "good");
    assertEquals(b.text, "good /");
    assertEquals(origin.seen.map((s) => `${s.host} ${s.target}`), ["evil /", "good /"]);
    assertEquals((await raw(c.port, "/", "evil")).text, "evil /");
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache key: transparent and forward listeners ask the origin the normalised URL too", async () => {
  const origin = echoOrigin();
  const c = startCache({ acl: { allowDestinations: ["127.0.0.0/8"] } }, [{ mode: "transparent" }, { mode: "forward" }]);
  try {
    const host = `127.0.0.1:${origin.port}`;
    assertEquals((await raw(c.ports[0], "/t/%2E%2e/u", host)).text, `${host} /u`);
    assertEquals((await raw(c.ports[1], `http://${host}/t/../u`, "ignored")).text, `${host} /u`);
    assertEquals((await raw(c.ports[1], `http://${host}/v\\..\\w`, "x")).text, `${host} /w`);
    assertEquals(origin.targets, ["/u", "/w"]);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache key: targets that cannot be normalised safely get 400 and reach no origin", async () => {
  const origin = echoOrigin();
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const bad: [string, string | null][] = [
      ["/a%zz", "good.example"],
      ["/a%", "good.example"],
      ["/a%2", "good.example"],
      ["/a%00b", "good.example"],
      ["/a%0d%0aX-Injected:%201", "good.example"],
      ["/q?x=%g1", "good.example"],
      ["/", "good.example:80:80"],
      ["/", "good.example:99999"],
      ["/", "user@good.example"],
      ["http://u:p@good.example/", "good.example"],
      ["http://good.example:80:80/", "good.example"],
      ["http://good.example/%zz", "good.example"],
      ["relative/path", "good.example"],
    ];
    for (const [target, host] of bad) assertEquals((await raw(c.port, target, host)).status, 400, `${target} ${host}`);
    assertEquals(origin.seen.length, 0);
    assertEquals((await request(c.port, "/fine", { host: "good.example" })).status, 200);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache key: the fast hit path keys exactly as the route does", async () => {
  const origin = echoOrigin();
  const c = startCache({ defaultOrigin: origin.url });
  try {
    assertEquals((await keepAliveGet(c.port, "/x/y", "good.example")).text, "good.example /x/y");
    assertEquals((await keepAliveGet(c.port, "/x/y", "good.example")).headers.get("x-cache"), "HIT from testcache");
    // The same characters split differently between Host and target are not that object.
    assertEquals((await keepAliveGet(c.port, "/y", "good.example/x")).status, 400);
    for (const t of ["/x/../x/y", "/x/%79", "/x\\y", "/x/y#f"]) {
      const r = await keepAliveGet(c.port, t, "GOOD.example:80");
      assertEquals(r.text, "good.example /x/y", t);
      assertEquals(r.headers.get("x-cache"), "HIT from testcache", t);
    }
    assertEquals(origin.seen.length, 1);
  } finally {
    await c.close();
    await origin.close();
  }
});
