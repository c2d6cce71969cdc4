import assert from "node:assert/strict";
import { decodeIcpMessage, encodeIcpMessage, type IcpMessage } from "./message.ts";
import { icpMessagesDropped } from "./metrics.ts";
import { IcpOpcode } from "./opcode.ts";
import { IcpServer, type IcpServerOptions } from "./server.ts";

async function withServer(
  opts: Partial<IcpServerOptions>,
  fn: (ask: (bytes: Uint8Array) => Promise<IcpMessage>, sock: Deno.DatagramConn, port: number) => Promise<void>,
) {
  const server = await IcpServer.listen({
    hostname: "127.0.0.1",
    port: 0,
    isFresh: () => false,
    allows: () => true,
    ...opts,
  });
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: server.addr.port };
  const ask = async (bytes: Uint8Array) => {
    await sock.send(bytes, to);
    const [data] = await sock.receive();
    return decodeIcpMessage(data);
  };
  try {
    await fn(ask, sock, server.addr.port);
  } finally {
    sock.close();
    await server.close();
  }
}

const query = (url: string, requestNumber = 1) => encodeIcpMessage({ opcode: IcpOpcode.QUERY, requestNumber, url });

async function dropped(reason: string): Promise<number> {
  const m = await icpMessagesDropped.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

Deno.test("IcpServer answers HIT for fresh objects and MISS otherwise, echoing the request number", async () => {
  const fresh = new Set(["http://a.example/fresh"]);
  await withServer({ isFresh: (u) => Promise.resolve(fresh.has(u)) }, async (ask) => {
    const hit = await ask(query("http://a.example/fresh", 0xdeadbeef));
    assert.equal(hit.opcode, IcpOpcode.HIT);
    assert.equal(hit.requestNumber, 0xdeadbeef);
    assert.equal(hit.url, "http://a.example/fresh");
    const miss = await ask(query("http://a.example/other", 77));
    assert.equal(miss.opcode, IcpOpcode.MISS);
    assert.equal(miss.requestNumber, 77);
  });
});

Deno.test("IcpServer answers MISS_NOFETCH when short of resources, DENIED to strangers, ERR to non-URLs", async () => {
  let short = true;
  let allowed = true;
  await withServer({ missNoFetch: () => short, allows: () => allowed }, async (ask) => {
    assert.equal((await ask(query("http://a/x"))).opcode, IcpOpcode.MISS_NOFETCH);
    short = false;
    assert.equal((await ask(query("http://a/x"))).opcode, IcpOpcode.MISS);
    assert.equal((await ask(query("not-a-url"))).opcode, IcpOpcode.ERR);
    allowed = false;
    const d = await ask(query("http://a/x", 9));
    assert.equal(d.opcode, IcpOpcode.DENIED);
    assert.equal(d.requestNumber, 9);
  });
});

Deno.test("IcpServer answers MISS when the freshness lookup fails", async () => {
  await withServer({ isFresh: () => Promise.reject(new Error("disk gone")) }, async (ask) => {
    assert.equal((await ask(query("http://a/x"))).opcode, IcpOpcode.MISS);
  });
});

Deno.test("IcpServer drops malformed datagrams without answering and counts them by reason", async () => {
  await withServer({}, async (ask, sock, port) => {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    const before = {
      short: await dropped("short"),
      version: await dropped("version"),
      no_nul: await dropped("no_nul"),
    };
    await sock.send(new Uint8Array(10), to);
    const badVersion = query("http://a/x");
    badVersion[1] = 3;
    await sock.send(badVersion, to);
    const noNul = query("http://a/x").slice(0, -1);
    new DataView(noNul.buffer).setUint16(2, noNul.length);
    await sock.send(noNul, to);
    // The first answer we get is for the valid query that follows the garbage.
    const reply = await ask(query("http://a/valid", 5));
    assert.equal(reply.requestNumber, 5);
    assert.equal(await dropped("short"), before.short + 1);
    assert.equal(await dropped("version"), before.version + 1);
    assert.equal(await dropped("no_nul"), before.no_nul + 1);
  });
});

Deno.test("IcpServer passes replies to onReply and drops them when nobody listens", async () => {
  const got: IcpMessage[] = [];
  await withServer({}, async (_ask, sock, port) => {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    const before = await dropped("unexpected_reply");
    await sock.send(encodeIcpMessage({ opcode: IcpOpcode.MISS, requestNumber: 1, url: "http://a/" }), to);
    for (let i = 0; i < 50 && (await dropped("unexpected_reply")) === before; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await dropped("unexpected_reply"), before + 1);
  });
  await withServer({ onReply: (m) => got.push(m) }, async (_ask, sock, port) => {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    await sock.send(encodeIcpMessage({ opcode: IcpOpcode.DECHO, requestNumber: 2, url: "http://a/" }), to);
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got.length, 1);
    assert.equal(got[0].opcode, IcpOpcode.DECHO);
  });
});
