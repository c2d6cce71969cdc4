import { assertEquals, assertMatch, assertStringIncludes } from "../tests/_assert.ts";
import { AdminServer } from "./server.ts";

function start(opts: { allow?: string[]; token?: string } = {}) {
  const ac = new AbortController();
  const admin = new AdminServer({
    hostname: "127.0.0.1",
    port: 0,
    allow: opts.allow ?? ["127.0.0.0/8"],
    token: opts.token,
    node: "test-node",
    role: "cache",
    signal: ac.signal,
  });
  admin.status("demo", () => ({ objects: 3 }));
  admin.route("/echo", (_req, client) => new Response(client));
  admin.start();
  const base = `http://127.0.0.1:${admin.addr.port}`;
  return { admin, base, stop: () => admin.stop() };
}

Deno.test("AdminServer serves /healthz, /metrics and /status over a real socket", async () => {
  const { base, stop } = start();
  try {
    const h = await fetch(`${base}/healthz`);
    assertEquals([h.status, await h.text()], [200, "ok\n"]);
    const m = await fetch(`${base}/metrics`);
    assertEquals(m.status, 200);
    assertStringIncludes(m.headers.get("content-type") ?? "", "text/plain");
    const text = await m.text();
    assertMatch(text, /# TYPE webcache_process_start_time_seconds gauge/);
    assertMatch(text, /webcache_process_heap_used_bytes \d+/);
    const s = await (await fetch(`${base}/status`)).json();
    assertEquals([s.node, s.role, s.demo.objects], ["test-node", "cache", 3]);
    const e = await fetch(`${base}/echo`);
    assertEquals(await e.text(), "127.0.0.1");
    const nf = await fetch(`${base}/nope`);
    assertEquals(nf.status, 404);
    await nf.body?.cancel();
  } finally {
    await stop();
  }
});

Deno.test("AdminServer refuses clients outside admin.allow without the token", async () => {
  const { base, stop } = start({ allow: ["10.0.0.0/8"], token: "0123456789abcdef-token" });
  try {
    const denied = await fetch(`${base}/status`);
    assertEquals(denied.status, 403);
    await denied.body?.cancel();
    const wrong = await fetch(`${base}/status`, { headers: { authorization: "Bearer 0123456789abcdef-tokeX" } });
    assertEquals(wrong.status, 403);
    await wrong.body?.cancel();
    const ok = await fetch(`${base}/healthz`, { headers: { authorization: "Bearer 0123456789abcdef-token" } });
    assertEquals(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    await stop();
  }
});

Deno.test("AdminServer refuses strangers when no token is configured", async () => {
  const { base, stop } = start({ allow: [] });
  try {
    const r = await fetch(`${base}/metrics`);
    assertEquals(r.status, 403);
    await r.body?.cancel();
  } finally {
    await stop();
  }
});
