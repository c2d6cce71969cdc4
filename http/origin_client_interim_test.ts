import { assertEquals } from "../tests/_assert.ts";
import { findHeadEnd, type ResponseHead } from "./head_codec.ts";
import { OriginPool } from "./origin_client.ts";

/** An origin that answers each request on a connection with `reply` (raw text). */
function origin(reply: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(16384);
        let have = 0;
        while (true) {
          const n = await conn.read(buf.subarray(have));
          if (n === null) return;
          have += n;
          const end = findHeadEnd(buf, 0, have);
          if (end === -1) continue;
          buf.copyWithin(0, end, have);
          have -= end;
          await conn.write(new TextEncoder().encode(reply));
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    to: { hostname: "127.0.0.1", port: listener.addr.port },
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
    },
  };
}

const INTERIMS = "HTTP/1.1 100 Continue\r\n\r\n" +
  "HTTP/1.1 102 Processing\r\n\r\n" +
  "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nX-Interim: yes\r\n\r\n";
const FINAL = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok";

Deno.test("OriginPool: interim responses go to onInterim in order; the final head has none of their fields", async () => {
  const o = origin(INTERIMS + FINAL);
  const pool = new OriginPool({ connectTimeoutMs: 1000, readTimeoutMs: 2000, maxIdlePerHost: 2 });
  try {
    const seen: ResponseHead[] = [];
    const r = await pool.request(o.to, {
      method: "GET",
      target: "/",
      headers: [["host", "a"]],
      onInterim: (h) => {
        seen.push(h);
      },
    });
    assertEquals(seen.map((h) => h.status), [100, 102, 103]);
    assertEquals(seen[2].headers.get("link"), "</style.css>; rel=preload; as=style");
    assertEquals(r.head.status, 200);
    assertEquals(r.head.headers.get("link"), null);
    assertEquals(r.head.headers.get("x-interim"), null);
    assertEquals(new TextDecoder().decode(await r.readWhole()), "ok");
    // The connection is reusable after interim responses: the second request reuses it.
    const again = await pool.request(o.to, { method: "GET", target: "/", headers: [["host", "a"]] });
    assertEquals(again.head.status, 200);
    await again.readWhole();
  } finally {
    pool.close();
    await o.close();
  }
});

Deno.test("OriginPool: the final head waits until an async onInterim settled", async () => {
  const o = origin(INTERIMS + FINAL);
  const pool = new OriginPool({ connectTimeoutMs: 1000, readTimeoutMs: 2000, maxIdlePerHost: 2 });
  try {
    const order: string[] = [];
    const r = await pool.request(o.to, {
      method: "GET",
      target: "/",
      headers: [["host", "a"]],
      onInterim: async (h) => {
        await new Promise((ok) => setTimeout(ok, 20));
        order.push(String(h.status));
      },
    });
    order.push(String(r.head.status));
    assertEquals(order, ["100", "102", "103", "200"]);
    r.abort();
  } finally {
    pool.close();
    await o.close();
  }
});
