/** `webcache cache` peering flags: --peer, --icp-port, --peering. */
import assert from "node:assert/strict";
import { runWebcache } from "../_bin.ts";
import { CacheNode, curlIn, randomPort } from "./_icp_nodes.ts";
import { decodeIcpMessage, encodeIcpMessage } from "../../icp/message.ts";
import { IcpOpcode } from "../../icp/opcode.ts";

Deno.test("webcache cache --peer rejects a malformed peer with status 2 and names the flag", async () => {
  const r = await runWebcache(["cache", "--peer", "10.0.0.2:3128/cousin"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Cannot parse --peer "10\.0\.0\.2:3128\/cousin": type "cousin" is not sibling or parent/);
  const m = await runWebcache(["cache", "--peering", "carp", "--peer", "10.0.0.2:3128"]);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /--peering: cache\.peering\.mode/);
});

Deno.test("webcache cache --icp-port --peer runs peering without a config file and shows it in /status", async () => {
  const http = randomPort();
  const icp = randomPort();
  const admin = randomPort();
  const node = await CacheNode.start("flags", { cluster: { nodeName: "flags" } }, {
    args: [
      "--listen",
      `127.0.0.1:${http}`,
      "--admin",
      `127.0.0.1:${admin}`,
      "--icp-port",
      String(icp),
      "--peer",
      "127.0.0.2:3128:3130/sibling",
      "--peer",
      "127.0.0.3:3128:0/parent",
      "--peering",
      "icp",
    ],
  });
  try {
    const st = await (await fetch(`http://127.0.0.1:${admin}/status`)).json();
    assert.equal(st.peering.mode, "icp");
    assert.equal(st.peering.icpListen, `0.0.0.0:${icp}`);
    assert.deepEqual(
      st.peering.icp.map((p: { peer: string; type: string }) => `${p.peer}/${p.type}`),
      ["127.0.0.2:3130/sibling", "127.0.0.3:0/parent"],
    );
  } finally {
    await node.stop();
  }
});

Deno.test("a cache whose origin keeps failing answers ICP queries for that site with MISS_NOFETCH", async () => {
  const http = randomPort();
  const icp = randomPort();
  const deadOrigin = randomPort(); // nothing listens there
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const sockPort = (sock.addr as Deno.NetAddr).port;
  const node = await CacheNode.start("nofetch", {
    cluster: { nodeName: "nofetch" },
    admin: { listen: `127.0.0.1:${randomPort()}` },
    cache: {
      listen: [{ address: `127.0.0.1:${http}` }],
      defaultOrigin: `http://127.0.0.1:${deadOrigin}`,
      workers: 2,
      peers: [{ host: "127.0.0.1", httpPort: 1, icpPort: sockPort }], // we are its peer: allowed to query
    },
    icp: { port: icp, listen: "127.0.0.1" },
  });
  const ask = async (url: string, requestNumber: number) => {
    await sock.send(encodeIcpMessage({ opcode: IcpOpcode.QUERY, requestNumber, url }), {
      transport: "udp",
      hostname: "127.0.0.1",
      port: icp,
    });
    for (;;) {
      const [data] = await sock.receive();
      const m = decodeIcpMessage(data);
      if (m.requestNumber === requestNumber) return m.opcode;
    }
  };
  try {
    assert.equal(await ask("http://failing.test/a", 1), IcpOpcode.MISS);
    for (let i = 0; i < 3; i++) {
      const r = await curlIn(undefined, `http://127.0.0.1:${http}/x${i}`, { host: "failing.test" });
      assert.equal(r.status, 502);
    }
    assert.equal(await ask("http://failing.test/a", 2), IcpOpcode.MISS_NOFETCH);
    assert.equal(await ask("http://other.test/a", 3), IcpOpcode.MISS);
  } finally {
    sock.close();
    await node.stop();
  }
});
