import assert from "node:assert/strict";
import { encodePacket, MAX_STREAM_FRAME_BYTES, MAX_UNAUTHENTICATED_FRAME_BYTES, type Message } from "./codec.ts";
import { Keyring } from "./keyring.ts";
import { readSealedPacket, writeFrame, writeSealedPacket } from "./stream_frame.ts";

const KEY = btoa("s".repeat(32));

/** A connected loopback TCP pair. */
async function tcpPair(): Promise<{ client: Deno.Conn; server: Deno.Conn; close(): void }> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([Deno.connect({ hostname: "127.0.0.1", port: l.addr.port }), l.accept()]);
  l.close();
  return {
    client,
    server,
    close() {
      for (const c of [client, server]) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "none";
  } catch (e) {
    return (e as { reason?: string }).reason ?? (e as Error).name;
  }
}

Deno.test("readSealedPacket() reads a small packet in one frame and a large one after streamOpen", async () => {
  const keyring = await Keyring.create([KEY], "t");
  const p = await tcpPair();
  try {
    const small: Message[] = [{ type: "ack", seq: 3 }];
    const large: Message[] = Array.from({ length: 40 }, (_, i) => ({
      type: "config",
      version: i,
      hash: "h",
      text: "x".repeat(3000),
    }));
    assert.ok(encodePacket(large).length > MAX_UNAUTHENTICATED_FRAME_BYTES);
    const writing = (async () => {
      await writeSealedPacket(p.client, keyring, encodePacket(small));
      await writeSealedPacket(p.client, keyring, encodePacket(large));
    })();
    let authenticated = 0;
    assert.deepEqual(await readSealedPacket(p.server, keyring, () => authenticated++), small);
    assert.deepEqual(await readSealedPacket(p.server, keyring, () => authenticated++), large);
    assert.equal(authenticated, 2);
    await writing;
  } finally {
    p.close();
  }
});

Deno.test("readSealedPacket() refuses oversized first frames, unauthenticated input and lying announcements", async () => {
  const keyring = await Keyring.create([KEY], "t");
  const stranger = await Keyring.create([btoa("z".repeat(32))], "t");
  const cases: { what: string; send: (c: Deno.Conn) => Promise<void>; want: string }[] = [
    {
      what: "a first frame above the bound",
      send: (c) => c.write(new Uint8Array([0, 2, 0, 0])).then(() => {}),
      want: "oversized",
    },
    {
      what: "a streamOpen sealed with another key",
      send: async (c) =>
        await writeFrame(c, await stranger.seal(encodePacket([{ type: "streamOpen", frameBytes: 1 << 20 }]))),
      want: "auth",
    },
    {
      what: "a streamOpen above the stream limit",
      send: async (c) =>
        await writeFrame(
          c,
          await keyring.seal(encodePacket([{ type: "streamOpen", frameBytes: MAX_STREAM_FRAME_BYTES + 1 }])),
        ),
      want: "oversized",
    },
    {
      what: "a frame longer than announced",
      send: async (c) => {
        await writeFrame(c, await keyring.seal(encodePacket([{ type: "streamOpen", frameBytes: 100 }])));
        await writeFrame(c, new Uint8Array(101));
      },
      want: "oversized",
    },
    {
      what: "a frame shorter than announced",
      send: async (c) => {
        await writeFrame(c, await keyring.seal(encodePacket([{ type: "streamOpen", frameBytes: 100 }])));
        await writeFrame(c, await keyring.seal(encodePacket([{ type: "ack", seq: 1 }])));
      },
      want: "garbled",
    },
  ];
  for (const t of cases) {
    const p = await tcpPair();
    try {
      await t.send(p.client);
      assert.equal(await reason(readSealedPacket(p.server, keyring)), t.want, t.what);
    } finally {
      p.close();
    }
  }
});
