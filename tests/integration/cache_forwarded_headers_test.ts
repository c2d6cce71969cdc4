/**
 * Client-supplied forwarding fields are not trusted (issue #14 item 4): accelerator and
 * transparent listeners remove X-Forwarded-Host/-Proto/-Port, X-Original-URL, X-Rewrite-URL,
 * Forwarded and their kin from client requests, and send the cache's own X-Forwarded-For and
 * Via. `cache.trustForwardedHeaders` keeps chosen ones, and a kept one is part of the cache key.
 */
import { assertEquals } from "../_assert.ts";
import { RecordingOrigin, request, startCache } from "./_cache_harness.ts";

const SPOOFED: Record<string, string> = {
  "X-Forwarded-Host": "evil.example",
  "X-Forwarded-Proto": "https",
  "X-Forwarded-Port": "8443",
  "X-Forwarded-Scheme": "https",
  "X-Forwarded-Server": "evil",
  "X-Original-URL": "/admin",
  "X-Rewrite-URL": "/admin",
  "X-Host": "evil.example",
  "X-HTTP-Method-Override": "DELETE",
  "Forwarded": "for=6.6.6.6;host=evil.example;proto=https",
  "X-Forwarded-For": "6.6.6.6",
  "X-Real-IP": "6.6.6.6",
  "X_Forwarded_Host": "evil.example",
};

function origin(): RecordingOrigin {
  return new RecordingOrigin((r) => ({
    headers: [["cache-control", "max-age=60"]],
    body: `${r.headers.get("x-forwarded-host") ?? "-"} ${r.headers.get("x-forwarded-proto") ?? "-"}`,
  }));
}

Deno.test("forwarding headers: accelerator and transparent listeners drop client-supplied ones", async () => {
  const o = origin();
  const c = startCache({ defaultOrigin: o.url, acl: { allowDestinations: ["127.0.0.0/8"] } }, [
    { mode: "accel" },
    { mode: "transparent" },
  ]);
  try {
    const a = await request(c.ports[0], "/a", { headers: SPOOFED });
    assertEquals(a.text, "- -");
    const t = await request(c.ports[1], "/t", { host: `127.0.0.1:${o.port}`, headers: SPOOFED });
    assertEquals(t.text, "- -");
    assertEquals(o.seen.length, 2);
    for (const seen of o.seen) {
      for (const name of Object.keys(SPOOFED)) {
        if (name !== "X-Forwarded-For") assertEquals(seen.headers.get(name), null, name);
      }
      assertEquals(seen.headers.get("x-forwarded-for"), "127.0.0.1");
      assertEquals(seen.headers.get("via"), "1.1 testcache");
    }
    // A spoofed X-Forwarded-Host cannot poison the object others get.
    assertEquals((await request(c.ports[0], "/a")).headers.get("x-cache"), "HIT from testcache");
    assertEquals((await request(c.ports[0], "/a")).text, "- -");
  } finally {
    await c.close();
    await o.close();
  }
});

Deno.test("forwarding headers: trusted ones are kept and become part of the cache key", async () => {
  const o = origin();
  const c = startCache({
    defaultOrigin: o.url,
    trustForwardedHeaders: ["X-Forwarded-Proto", "x-forwarded-for"],
  });
  try {
    const https = await request(c.port, "/k", { headers: { ...SPOOFED, "X-Forwarded-Proto": "https" } });
    assertEquals(https.text, "- https");
    assertEquals(o.seen[0].headers.get("x-forwarded-for"), "6.6.6.6, 127.0.0.1"); // appended, not trusted alone
    assertEquals(o.seen[0].headers.get("x-forwarded-host"), null);
    const http = await request(c.port, "/k", { headers: { "X-Forwarded-Proto": "http" } });
    assertEquals(http.text, "- http");
    assertEquals(http.headers.get("x-cache"), "MISS from testcache");
    const none = await request(c.port, "/k");
    assertEquals(none.text, "- -");
    assertEquals(o.seen.length, 3);
    const again = await request(c.port, "/k", { headers: { "X-Forwarded-Proto": "https" } });
    assertEquals(again.headers.get("x-cache"), "HIT from testcache");
    assertEquals(again.text, "- https");
    assertEquals((await request(c.port, "/k")).text, "- -");
    assertEquals(o.seen.length, 3);
  } finally {
    await c.close();
    await o.close();
  }
});
